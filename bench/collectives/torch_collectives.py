"""The collectives benchmark with torch.distributed (gloo), mirroring bench/collectives/figures.ts.

Run one process per rank with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set; rank 0 prints
one JSON line: [{"name": ..., "p50": milliseconds}, ...].
"""
import json
import os
import time

import torch
import torch.distributed as dist

MiB = 1 << 20


def measure(name, iterations, run):
    samples = []
    for _ in range(iterations):
        dist.barrier()
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"name": name, "p50": samples[len(samples) // 2]}


def main():
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    small = torch.ones(MiB // 4, dtype=torch.float32)
    large = torch.ones(64 * MiB // 4, dtype=torch.float32)
    gather_list = [torch.empty_like(large) for _ in range(dist.get_world_size())] if rank == 0 else None
    out = []
    for _ in range(200):
        dist.barrier()
    out.append(measure("barrier", 2000, dist.barrier))
    measure("warmup", 20, lambda: dist.all_reduce(small))
    out.append(measure("allReduce sum, 1 MiB", 300, lambda: dist.all_reduce(small)))
    measure("warmup", 3, lambda: dist.all_reduce(large))
    out.append(measure("allReduce sum, 64 MiB", 20, lambda: dist.all_reduce(large)))
    measure("warmup", 3, lambda: dist.gather(large, gather_list, dst=0))
    out.append(measure("gather to rank 0, 64 MiB per rank", 20, lambda: dist.gather(large, gather_list, dst=0)))
    measure("warmup", 3, lambda: dist.broadcast(large, src=0))
    out.append(measure("broadcast, 64 MiB", 20, lambda: dist.broadcast(large, src=0)))
    if rank == 0:
        print(json.dumps(out), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
