"""Use-case apps built on Engines, RAG and the guard (logs, code, ...).

Each app is a plain library function, a CLI verb and (where it makes sense) an HTTP route
mounted at ``/v1/apps/{name}``. Apps meet the rest of slmkit only through ``core`` types.
"""
