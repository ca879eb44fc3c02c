"""Edge: signed model bundles, an update repository, the device agent (stage → verify →
install → probation → commit or roll back), a fleet collector and a Greengrass export.

Meets serve only by starting ``slm serve`` as a subprocess; uses ``models`` for lineage,
the fit check and hardware probing."""
