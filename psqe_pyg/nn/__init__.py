from psqe_pyg.nn.attention import BipartiteCSR, GraphAttention
from psqe_pyg.nn.losses import bidirectional_info_nce
from psqe_pyg.nn.seed_encoder import SeedEncoder, receptive_field, train_seed_encoder

__all__ = [
    'BipartiteCSR', 'GraphAttention', 'bidirectional_info_nce', 'SeedEncoder', 'receptive_field',
    'train_seed_encoder'
]
