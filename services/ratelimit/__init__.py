"""The mesh's global rate-limit service: Envoy's RLS API (`envoy.service.ratelimit.v3`) over shared counters."""
