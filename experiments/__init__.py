"""Experiment harness: reproduction of the ZKFL-PQ paper (arXiv 2603.03398) side by side
with zkflpq, and the evaluations beyond it (overhead breakdown, attack matrix, real
data, scaling, anchors). Every module is importable and has a ``__main__`` CLI with a
``--quick`` mode (tests) and a full mode that regenerates ``paper_results/``.

Modules: :mod:`.common`, :mod:`.pipelines`, :mod:`.federation`,
:mod:`.reproduce_paper`, :mod:`.overhead`, :mod:`.attack_matrix`, :mod:`.real_data`,
:mod:`.scaling`, :mod:`.anchors`, :mod:`.openfhe_anchor`, :mod:`.report`,
:mod:`.run_all`.
"""
