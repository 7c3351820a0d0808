"""The composition roots: the `clientkeys` command, dev mode and the bootstrap.

The only package that imports both the gateway (`api`) and the worker (`worker`),
so neither side nor `common` has to know how the processes are put together.
"""
