/** 16 hex digits (prefixed "h") over the sorted native sources; undefined when they are absent. */
export function nativeSourceHash(): string | undefined;
