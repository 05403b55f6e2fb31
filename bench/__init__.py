"""The benchmarks (one script each, run as `python bench/<name>.py`) and what they share, by purpose:

- paths: where the project, the result files and the scratch folders are;
- machine: the machine's facts, CPU load and process memory;
- stats: the one percentile, and summaries of durations;
- results: the one writer of bench/results/<name>.json, and markdown tables;
- corpora: the sample and SQuAD corpora and their questions;
- child: child processes (their environment, and a child that prints JSON);
- server: `qa serve` in a child process on a free loopback port;
- client: a small asyncio HTTP client for POST /ask;
- synthetic, ann: scale.py's synthetic corpus and its FAISS measurements;
- summary, summary_md: run_all.py's summary.json and summary.md.
"""
