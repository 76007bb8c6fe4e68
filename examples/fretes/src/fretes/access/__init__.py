"""Data access of the pages, one module per form, all with the signatures of ``PageAccess``.

- ``naive``: what the real system does (lazy loads per row, one COUNT per counter);
- ``optimized``: the same answers in a small, constant number of queries;
- ``cached``: the optimized functions wrapped in Turbina's cache, from one table
  (``CACHED_FUNCTIONS``) that the tests and the benchmark harness read too;
- ``writes``: the writes, the same in every form;
- ``registry``: the mode -> form map ``create_app`` builds, and ``access_for_request()``.

Dependencies flow one way: domain <- naive, optimized <- cached <- registry <- views.
"""
