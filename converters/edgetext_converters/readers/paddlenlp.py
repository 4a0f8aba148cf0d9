"""Reader (b): a PaddleNLP checkpoint folder: ``model_config.json`` (or ``config.json``) +
``model_state.pdparams`` + tokenizer files, as ``save_pretrained`` (or paddle_ernie.save_checkpoint)
writes it. ERNIE and BERT sequence classifiers; the description comes out in weights form.

May import: numpy, edgetext.errors, ..description, ..tokenizer_assets, ..paddle_ernie (paddle), .common,
.paddle_pickle (the parameters are never ``paddle.load``-ed: that is ``pickle.load``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgetext.errors import ConversionError

from ..description import ModelDescription
from ..tokenizer_assets import load_json_object
from .common import Reader, check_vocab, check_weights, file_size, tokenizer
from .paddle_pickle import load_state_dict


def matches(p: Path) -> bool:
    return p.is_dir() and ((p / "model_state.pdparams").is_file() or any(p.glob("*.pdparams")))


def read(folder: Path) -> ModelDescription:
    import zlib  # noqa: F401  (before paddle)

    from ..paddle_ernie import ErnieConfig

    cfg_file = next((folder / n for n in ("model_config.json", "config.json") if (folder / n).is_file()), None)
    if cfg_file is None:
        raise ConversionError(f"{folder}: no model_config.json or config.json next to the .pdparams")
    raw_cfg = load_json_object(cfg_file)
    archs = " ".join(raw_cfg.get("architectures") or [raw_cfg.get("init_class", "")]).lower()
    mt = str(raw_cfg.get("model_type", "")).lower()
    if (mt and mt not in ("ernie", "bert")) or (archs and not any(a in archs for a in ("ernie", "bert"))):
        raise ConversionError(f"{cfg_file}: unsupported architecture {mt or archs!r} (ERNIE and BERT only)")
    if archs and "sequenceclassification" not in archs and "forsequence" not in archs:
        raise ConversionError(f"{cfg_file}: architecture {archs!r} is not a sequence classifier "
                              "(ErnieForSequenceClassification / BertForSequenceClassification)")
    try:
        cfg = ErnieConfig.from_dict(raw_cfg)
    except (TypeError, ValueError) as e:
        raise ConversionError(f"{cfg_file}: {e}") from None
    if cfg.hidden_act not in ("gelu", "relu"):
        raise ConversionError(f"{cfg_file}: hidden_act {cfg.hidden_act!r} is not supported (gelu, relu)")
    params_file = folder / "model_state.pdparams"
    if not params_file.is_file():
        cands = sorted(folder.glob("*.pdparams"))
        if len(cands) != 1:
            raise ConversionError(f"{folder}: expected model_state.pdparams")
        params_file = cands[0]
    weights = _load_pdparams(params_file)
    prefix = cfg.model_type
    if not any(k.startswith(prefix + ".") for k in weights):
        other = "bert" if prefix == "ernie" else "ernie"
        if any(k.startswith(other + ".") for k in weights):
            cfg = cfg.copy(model_type=other)
            prefix = other
    has_task = f"{prefix}.embeddings.task_type_embeddings.weight" in weights
    if "use_task_id" not in raw_cfg and has_task != cfg.use_task_id:
        cfg = cfg.copy(use_task_id=has_task)  # the config is silent: the weights decide
    # the classifier size decides num_labels when the config is silent or disagrees
    cw = weights.get("classifier.weight")
    if cw is None:
        raise ConversionError(f"{params_file}: no classifier.weight: not a sequence-classification checkpoint")
    if cw.ndim != 2 or cw.shape[0] != cfg.hidden_size:
        raise ConversionError(f"{params_file}: classifier.weight has shape {list(cw.shape)}, expected "
                              f"[{cfg.hidden_size}, num_labels]")
    if cfg.num_labels != cw.shape[1]:
        if raw_cfg.get("id2label") and len(raw_cfg["id2label"]) != cw.shape[1]:
            raise ConversionError(f"{cfg_file}: id2label has {len(raw_cfg['id2label'])} labels but the classifier "
                                  f"has {cw.shape[1]} outputs")
        cfg = cfg.copy(num_labels=int(cw.shape[1]), id2label=None)
    check_weights(weights, cfg, str(params_file))
    tok = tokenizer(folder, str(folder))
    notes = check_vocab(tok, weights[f"{prefix}.embeddings.word_embeddings.weight"].shape[0], str(params_file))
    return ModelDescription(source_kind="paddlenlp-checkpoint", source_path=str(folder), tokenizer=tok,
                            labels=cfg.labels, num_labels=cfg.num_labels, config=cfg, weights=weights,
                            source_size=file_size(params_file), notes=notes,
                            # PaddleNLP's own configs carry no such flag; one that does (ours, HF-style) is read
                            problem_type=raw_cfg.get("problem_type") if isinstance(raw_cfg.get("problem_type"), str)
                            else None)


def _load_pdparams(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a ``paddle.save`` state dict, read without arbitrary unpickling (paddle_pickle.py)."""
    return load_state_dict(path)


READER = Reader("paddlenlp-checkpoint", matches, read)
