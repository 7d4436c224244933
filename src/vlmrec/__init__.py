"""vlmrec: which item features make multimodal recommenders best?

A reproducible workflow (Snakemake) plus the library it runs: Amazon data preparation, item
feature extraction (VLM2Vec strategies and the ResNet-50 + BERT baseline), FREEDOM / LATTICE /
LightGCN trained with MMRec's protocol, and the comparison report.
"""

__version__ = "0.1.0"
