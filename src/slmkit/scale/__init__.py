"""Past one process: Ray Serve replicas behind the ``core.Engine`` contract and Ray fan-out
for batch jobs. Everything here imports ``ray`` lazily (the ``ray`` extra)."""

RAY_HINT = "install the ray extra: pip install 'slmkit[ray]'"


def require_ray():
    """``ray`` (imported now), or an ``SlmError`` that says how to install it."""
    from slmkit.core.errors import SlmError

    try:
        import ray
        from ray import serve  # noqa: F401
    except ImportError as err:
        raise SlmError(f"--ray needs Ray Serve, which is not installed ({err})",
                       hint=RAY_HINT) from None
    return ray
