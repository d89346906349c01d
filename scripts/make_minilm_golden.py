"""Compute the golden vectors of `tests/data/minilm_golden.json` with the reference stack.

The reference is what sentence-transformers does for all-MiniLM-L6-v2: Hugging Face
`transformers` (BertModel, BertTokenizerFast) on the model files the project installs, mean
pooling over the tokens, L2 normalisation. It needs torch and transformers, which the project
does not install; run it once in a separate environment, e.g. on this machine:

    python3.11 -m venv /tmp/golden && /tmp/golden/bin/pip install torch==2.13.0 numpy \\
        "transformers<5" safetensors
    /tmp/golden/bin/python scripts/make_minilm_golden.py .venv/share/minilm \\
        tests/data/minilm_golden.json

`tests/test_encoder.py` then checks our numpy encoder and its `tokenizers` word pieces against
the file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TEXTS = [
    "can I wear makeup on day 3?",
    "is oozing normal 2 days after microneedling??",
    "my lips are swelling and it's hard to breathe",
    "Café crème — naïve résumé, ÉLAN!",
    "omg my face is soooo red 🍅😭 is dis normal",
    "swolen n itchey on day4, wat do i do",
    "",
    "I had the treatment on Tuesday afternoon and since then the redness has been creeping up "
    "towards my ear, it feels hot to touch and I have a temperature of 38.4 so I'm a bit worried.",
]


def main(model_dir: str, out: str) -> int:
    """Write the golden file: each text's word-piece ids and unit vector."""
    import torch  # the reference stack: only in the environment that makes the file
    import transformers

    tokenizer = transformers.BertTokenizerFast(
        vocab_file=f"{model_dir}/vocab.txt", do_lower_case=True
    )
    model = transformers.BertModel.from_pretrained(model_dir).eval()
    cases = []
    with torch.no_grad():
        for text in TEXTS:
            encoded = tokenizer(text, return_tensors="pt", truncation=True, max_length=128)
            hidden = model(**encoded).last_hidden_state[0]
            mask = encoded["attention_mask"][0].unsqueeze(-1).float()
            vector = torch.nn.functional.normalize((hidden * mask).sum(0) / mask.sum(0), dim=0)
            ids = encoded["input_ids"][0].tolist()
            cases.append({"text": text, "ids": ids, "vector": [round(float(x), 6) for x in vector]})
    reference = f"transformers {transformers.__version__}, torch {torch.__version__}, mean pooling + L2 norm"
    golden = {"model": "all-MiniLM-L6-v2", "reference": reference, "cases": cases}
    Path(out).write_text(json.dumps(golden), encoding="utf-8")
    print(f"wrote {len(cases)} golden vectors to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
