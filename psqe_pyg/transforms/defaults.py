"""PSQE's defaults, the paper's values (DESIGN §4) except where said, written once: every stage,
:class:`PSQETransform`, the pipeline and the CLI read them here."""
BUDGET = 1000  # seeds drawn by stage 1 (and the most drawn by stage 2 or the pivot)
NUM_CLUSTERS = 5  # k-means clusters of stage 1
WEIGHTS = (0.8, 0.1, 0.1)  # (primary, attribute, relation) fusion weights
MATCH_ON = 'secondary'  # stage 1's within-cluster matching features
HIDDEN = 300  # stage 2's encoder width
EPOCHS = 50  # stage 2's training epochs (the paper: 300; 50 chosen on validation links, see README 'PSQE, stage by stage')
LR = 0.01
BATCH_SIZE = 2000
TEMPERATURE = 1.0
ETA_START, ETA_SPAN = 0.8, 0.1  # stage 3's acceptance threshold eta_i = ETA_START + ETA_SPAN i / M
K_START, K_SPAN = 6.0, 3.0  # stage 3's per-seed cap k_i = int(K_START - K_SPAN i / M)
