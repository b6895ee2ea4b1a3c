"""CPU of the local answer step alone: distinct questions over the sample corpus, sentences prepared.

Each question is embedded and searched first (not counted), then timed twice with `time.process_time` (every
thread of the process): its own forward pass (`embed`, which the answer step then reads from the embedder's
memory, as in a run) and `answer()` itself. `--json-out` keeps every answer, citation and confidence, to
compare two versions question by question.

    .venv/bin/python bench/answer_step.py [--questions 300] [--json-out answers.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    os.environ["PIPELINE_DATA_DIR"] = tempfile.mkdtemp()

    from pipeline import distinct_questions

    from cli.environment import prepare_binding_settings

    prepare_binding_settings()
    from cli.first_run import prepare_state_folder
    from providers import factory

    prepare_state_folder()
    factory.prepare_local_index_in_background()  # the sentences, as `pipeline serve` prepares them
    factory.wait_for_background_preparation()
    embedder, retriever, generator = factory.get_embedder(), factory.get_retriever(), factory.get_generator()
    questions = distinct_questions(args.questions)
    work = [(q, retriever.search(q, embedder.embed([q]).vectors[0], top_k=5)) for q in questions]
    embed_s = answer_s = 0.0
    answers = []
    for question, passages in work:
        began = time.process_time()
        embedder.embed([question])
        embedded = time.process_time()
        answer = generator.answer(question, passages)
        answer_s += time.process_time() - embedded
        embed_s += embedded - began
        answers.append(
            {"question": question, "answer": answer.text, "quotes": answer.quotes, "confidence": answer.confidence}
        )
    count = len(work)
    print(
        f"{count} distinct questions: the question's forward pass {embed_s / count * 1000:.2f} ms CPU, "
        f"the answer step {answer_s / count * 1000:.2f} ms CPU, each"
    )
    if args.json_out:
        args.json_out.write_text(json.dumps(answers, indent=1))


if __name__ == "__main__":
    main()
