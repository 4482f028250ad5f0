from psqe_pyg.nn.aligner import (AlignerConfig, AlignerInputs, MultiModalAligner, TrainingLog, aligner_inputs,
                                 late_fusion, propagated_features, train_aligner)
from psqe_pyg.nn.attention import BipartiteCSR, GraphAttention, NeighborAttention
from psqe_pyg.nn.losses import bidirectional_info_nce
from psqe_pyg.nn.seed_encoder import SeedEncoder, receptive_field, train_seed_encoder

__all__ = [
    'AlignerConfig', 'AlignerInputs', 'BipartiteCSR', 'GraphAttention', 'MultiModalAligner', 'NeighborAttention',
    'SeedEncoder', 'TrainingLog', 'aligner_inputs', 'bidirectional_info_nce', 'late_fusion', 'propagated_features',
    'receptive_field', 'train_aligner', 'train_seed_encoder'
]
