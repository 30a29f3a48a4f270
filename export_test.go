package oauthlink

// MemoryTokenEndpoint is the in-memory token endpoint of the benchmarks,
// for the external test package.
type MemoryTokenEndpoint = memoryTokenEndpoint
