from psqe_pyg.nn.losses import bidirectional_info_nce
from psqe_pyg.nn.seed_encoder import SeedEncoder, train_seed_encoder

__all__ = ['bidirectional_info_nce', 'SeedEncoder', 'train_seed_encoder']
