"""latentgeom: latent space geometry of perturbed transformer encoders vs. downstream performance.

Reproduces Marbut, Chandler & Wheeler, "Exploring the Impact of a Transformer's Latent Space
Geometry on Downstream Task Performance". Each module is usable on its own:

- ``latentgeom.models``   load a base encoder, perturb it (Eq. 1), model manifests
- ``latentgeom.corpus``   read corpora, sample unique sequences, representativeness stats (Fig. 2)
- ``latentgeom.embed``    last-layer token vectors of a sample, batched
- ``latentgeom.quantize`` FAISS LSQ++ / product quantizers, CPU or GPU
- ``latentgeom.measures`` every measure of Section 3.3 and Appendix A (Eqs. 2-15)
"""

__version__ = "0.1.0"
