# ruff: noqa
"""The diariser on CUDA against the CPU on the same clips: speakers found, wall time, per-speaker frame
agreement (issue 11; needs a GPU, not part of the tests). Run from the repository root on a GPU machine:

    python scripts/diar_gpu_check.py

On an H200 (torch 2.11, CUDA 13), with TF32 off as the diariser sets it: the same counts and a frame agreement
of 1.0000 on all four inputs, 0.008-0.013 x real time on the 10-minute input against 0.032-0.038 on one CPU
thread of the same machine (two runs).
"""
import time
import numpy as np
from scipy.io import wavfile
import torch
from verbatim.pipeline.diarize import SpeakerDiarizer, DiarizationOptions
from verbatim.pipeline.types import Audio

def load(p):
    sr, x = wavfile.read(p)
    assert sr == 16000
    x = x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x.astype(np.float32)
    return x.mean(axis=1) if x.ndim == 2 else x

clips = {n: load(f"tests/data/{f}") for n, f in (("picovoice3", "picovoice_diarization_test.wav"), ("ami_dev00", "ami_dev00.wav"), ("stereo_mix", "stereo_diarization.wav"))}
gap = np.zeros(16000, np.float32)
clips["long_10min"] = np.concatenate([np.concatenate([clips["ami_dev00"], gap, clips["picovoice3"], gap])] * 12)
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "", flush=True)
def frames(turns, dur, step=0.01):
    spk = sorted({t[2] for t in turns}); m = np.zeros((int(dur / step) + 1, max(len(spk), 1)), bool)
    for s, e, k in turns: m[int(s / step):int(e / step), spk.index(k)] = True
    return m
out = {}
for dev in ("cpu", "cuda"):
    d = SpeakerDiarizer(device=dev, threads=1)
    d(Audio(samples=clips["picovoice3"], sha256="", filename="warm"))
    for name, x in clips.items():
        t0 = time.perf_counter(); r = d(Audio(samples=x, sha256="", filename=name)); el = time.perf_counter() - t0
        out[(dev, name)] = r
        print(f"{dev:4s} {name:11s} speakers {r.num_speakers} wall {el:7.2f} s RTF {el / (len(x) / 16000):.4f}", flush=True)
    if dev == "cuda":
        print("cuda peak memory MB", torch.cuda.max_memory_allocated() / 2**20)
for name, x in clips.items():
    a, b = out[("cpu", name)], out[("cuda", name)]
    fa = frames([(t.start, t.end, t.speaker) for t in a.turns], len(x) / 16000)
    fb = frames([(t.start, t.end, t.speaker) for t in b.turns], len(x) / 16000)
    k = min(fa.shape[1], fb.shape[1]); n = min(len(fa), len(fb))
    from itertools import permutations
    best = max((sum((fa[:n, i] == fb[:n, p[i]]).mean() for i in range(k)) / k for p in permutations(range(fb.shape[1]), k)), default=1.0)
    print(f"{name:11s} cpu {a.num_speakers} cuda {b.num_speakers} per-speaker frame agreement {best:.4f}")
