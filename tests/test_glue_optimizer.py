"""The fast loop's optimizer is the run_glue engine's: the ``Trainer``'s default AdamW
(``adamw_torch_fused``), the same parameter groups and settings, the same update."""
from __future__ import annotations

import torch

from latentgeom.glue.hparams import Hyperparameters
from latentgeom.glue.run_glue import training_arguments
from latentgeom.glue.train import adamw


def _model():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=37, max_position_embeddings=64)
    return BertForSequenceClassification(cfg)


def test_fast_loop_adamw_is_the_trainers(tmp_path):
    from transformers import Trainer

    hp = Hyperparameters(learning_rate=3e-4, weight_decay=0.01, seed=3)
    ours_model, theirs_model = _model(), _model()
    ours = adamw(ours_model, hp)
    theirs = Trainer(model=theirs_model,
                     args=training_arguments(hp, tmp_path, "cpu")).create_optimizer()
    assert type(ours) is type(theirs)
    for key in ("lr", "betas", "eps", "fused", "foreach", "amsgrad", "maximize"):
        assert ours.defaults[key] == theirs.defaults[key], key
    assert ours.defaults["fused"] is True

    def groups(opt, model):
        name = {id(p): n for n, p in model.named_parameters()}
        return sorted((g["weight_decay"], sorted(name[id(p)] for p in g["params"]))
                      for g in opt.param_groups if g["params"])

    assert groups(ours, ours_model) == groups(theirs, theirs_model)

    # the same gradients give the same update, bit for bit
    ids = torch.randint(0, 99, (4, 9))
    for model, opt in ((ours_model, ours), (theirs_model, theirs)):
        torch.manual_seed(1)
        model.train()
        for _ in range(3):
            model(input_ids=ids, labels=torch.tensor([0, 1, 1, 0])).loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    for (n, a), b in zip(ours_model.named_parameters(), theirs_model.parameters()):
        assert torch.equal(a, b), n
