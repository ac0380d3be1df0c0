// Package usage reads what Proxide needs from OpenAI traffic: the billing
// fields of a request body (model, stream, output limits, a prompt-token
// estimate) and the exact token usage of a response body, which it follows
// chunk by chunk (JSON or server-sent events) in memory bounded by the chunk
// size, never by the body size.
//
// Counting uses tiktoken's encodings (o200k_base, cl100k_base, embedded in
// the binary: nothing is downloaded at run time) through usage/bpe, an
// allocation-free counter that gives tiktoken's exact counts.
package usage
