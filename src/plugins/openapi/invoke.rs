//! OpenAPI tool invocation: tool call → HTTP request → result (executor-behaviour.md §8.1.5). (Being built.)
