"""The gRPC runtime: server, interceptor chain, status mapping, channels, deadlines and breakers."""
