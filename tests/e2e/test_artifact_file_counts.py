"""``Artifact.files()`` counts through the real SDK: the server advertises
TOTAL_COUNT_IN_FILE_CONNECTION, so ``len()`` is the server's count of the matching files, with
or without ``names``, while pages of any size walk every file once.
"""

from __future__ import annotations

from itertools import islice

from tests.e2e.artifact_helpers import result
from tests.e2e.conftest import SdkEnv


def test_artifact_files_count_filter_and_page(sdk: SdkEnv, api) -> None:  # type: ignore[no-untyped-def]
    logged = result(sdk.run("""
        import json, wandb
        run = wandb.init(project="file-counts")
        art = wandb.Artifact("ten", type="text")
        for i in range(10):
            with art.new_file(f"file{i}.txt") as f:
                f.write(str(i))
        run.log_artifact(art)
        art.wait()
        print("RESULT", json.dumps({"name": art.qualified_name}))
        run.finish()
        """))
    art = api.artifact(logged["name"])
    files = art.files()
    assert len(files) == 10
    assert str(files).endswith(" (10)>")
    assert len(art.files(names=["file0.txt"])) == 1
    assert len(art.files(names=["file0.txt", "file1.txt", "nope.txt"])) == 2
    assert [f.name for f in art.files(names=["file3.txt"])] == ["file3.txt"]

    everything = sorted(f.name for f in art.files(per_page=3))
    assert everything == sorted(f"file{i}.txt" for i in range(10))
    paged = art.files(per_page=3)
    first = [f.name for f in islice(paged, 3)]
    assert len(first) == 3 and len(paged) == 10  # the count is the total, not the page
