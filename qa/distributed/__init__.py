"""Index builds whose embedding runs on a Ray cluster, as a Ray Data job (`qa index --ray ADDRESS`).

`RayEmbedder` (ray_embed.py) has the build's embedder interface (qa.build.PassageEmbedder), so
ingest, chunking, incremental reuse, the lock and the atomic swap stay what they are; only the
embedding of chunk and sentence texts moves to the cluster. `RayIndexBuilder` (ray_index.py) is the
build's dense-index builder (qa.index.DenseBuilder, BuildOptions.dense): a generation big enough for
the compressed tier (IVF-PQ) is trained and added on the cluster, the same index a local build
makes; smaller ones are indexed here. Each job runs in a child process (driver.py), the one place
that imports Ray: Ray ends its driver's process when the cluster goes away, and this way that is a
failed build with a message instead of a vanished `qa`.

Ray is an optional extra: `pip install -e '.[ray]'`.
"""

from __future__ import annotations

from qa.distributed.ray_embed import RayEmbedder, require_ray
from qa.distributed.ray_index import RayIndexBuilder

__all__ = ["RayEmbedder", "RayIndexBuilder", "require_ray"]
