"""zkflpq: post-quantum, zero-knowledge verifiable aggregation for federated learning.

Layers (a lower one never imports a higher one):
ring → bfv → zk;  pq stands alone;  fl, agent and services sit on top.
"""

__version__ = "0.1.0"
