"""The training core: one loop and what it stands on, each file one idea (``docs/architecture.md``, its layers).

- ``checkpoint.py`` atomic safetensors folders with a JSON config; ``memory.py`` will a batch fit;
- ``precision.py`` fp32 or bf16, chosen by a probe, and counted FLOPs;
- ``loop.py`` the one training loop (budget, EMA, resume, torchrun) over a strategy's own step;
- ``autoencoding.py`` the stage one (auto-encoder, codec) trained through the loop;
- ``model_io.py`` build and load a strategy's trunk with its parts; ``options.py`` the training flags, declared once;
- ``distillation.py`` progressive distillation's rounds, each a run of the loop.

Import from the module that owns a name (``from genstrat.training.loop import train``): this package re-exports
nothing, so importing one of its files loads only what that file needs.
"""
