// A map keyed by (event kind, code system, code): the identity of a code in the vocabulary.
// Nested maps, because building a key string per event dominated encoding time.

export class EventCodeMap<T> {
  private readonly byKind = new Map<string, Map<string, Map<string, T>>>();

  get(kind: string, system: string, code: string): T | undefined {
    return this.byKind.get(kind)?.get(system)?.get(code);
  }

  set(kind: string, system: string, code: string, value: T): void {
    let bySystem = this.byKind.get(kind);
    if (!bySystem) this.byKind.set(kind, (bySystem = new Map()));
    let byCode = bySystem.get(system);
    if (!byCode) bySystem.set(system, (byCode = new Map()));
    byCode.set(code, value);
  }

  *values(): Generator<T> {
    for (const bySystem of this.byKind.values()) for (const byCode of bySystem.values()) yield* byCode.values();
  }
}
