"""Use-case apps built on the Engine contract (summarize, review, logs, code, ...).

Each app is a plain library function, a CLI verb and (where it makes sense) a
``core.apps.AppHandler`` mounted at ``/v1/apps/{name}``. Apps meet rag, guard and route only
through ``core`` types (the CLI wires the objects in).
"""
