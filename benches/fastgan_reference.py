#!/usr/bin/env python3
"""FastGAN training and sampling speed in PyTorch, for side-by-side runs with `atelier bench`.

A faithful port of Atelier's `fastgan` family (src/model/fastgan) at a preset's sizes, read
from the preset file itself (presets/fastgan-64-rgb.toml by default):
  G: z -> Linear (no bias) -> 4x4, BatchNorm, GLU; per doubling: nearest x2, 3x3 conv (no bias),
     BatchNorm, GLU, a second such conv at sides <= 16; skip-layer excitation from the map 8x
     smaller (adaptive-avg-pool 4, spectrally normalised 4x4 conv, swish, SN 1x1 conv, sigmoid);
     the last doubling straight to RGB (nearest x2, 3x3 conv, tanh).
  D: spectrally normalised strided 4x4 convs with LeakyReLU(0.2) down to 4x4, an SN 4x4 logit;
     two decoders rebuild the real batch at `reconstruction_side` px from the 8x8 map and from a
     quarter of the 16x16 map (1x1 conv, nearest x2 + 3x3 conv + BatchNorm + GLU, 3x3 conv,
     tanh), L1 against the average-pooled images, weight `reconstruction`.
  Step: hinge loss; D on real (with reconstruction) and detached fakes, Adam; then G through
  the updated D, plus the preset's `mode_seeking` term (MSGAN), Adam; EMA of G (decay warmed up as in Atelier). Synthetic uint8 data turned
  into [-1, 1] per batch, as Atelier's batches arrive. The preset's adaptive augmentation starts
  at p = 0 (no augmentation), which is what both programs time here.
Sampling: the EMA generator in eval mode, batches of 256 and one shot (median of 7).

Set-up (once; a large download):  python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch
Side by side, alternating in one shell (see README, "Speed"):
  /tmp/torch-venv/bin/python benches/fastgan_reference.py --preset presets/fastgan-64-rgb.toml --threads 2
  target/release/atelier bench --preset fastgan-64-rgb --device cpu --steps 30 --json
Prints one JSON line.
"""
import argparse
import json
import time
import tomllib

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

MAX_WIDTH = 512
DECODER_WIDTH = 32
DOUBLE_CONV_MAX_SIDE = 16


def init_normal(module):
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def sn_conv(cin, cout, k, s, p):
    return spectral_norm(nn.Conv2d(cin, cout, k, s, p, bias=True))


class GatedConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, 3, 1, 1, bias=False)
        self.norm = nn.BatchNorm2d(2 * cout)

    def forward(self, x):
        return F.glu(self.norm(self.conv(x)), dim=1)


class UpStage(nn.Module):
    def __init__(self, cin, cout, double):
        super().__init__()
        self.first = GatedConv(cin, cout)
        self.second = GatedConv(cout, cout) if double else None

    def forward(self, x):
        x = self.first(F.interpolate(x, scale_factor=2, mode='nearest'))
        return self.second(x) if self.second is not None else x


class SkipExcitation(nn.Module):
    def __init__(self, coarse, fine):
        super().__init__()
        self.squeeze = sn_conv(coarse, fine, 4, 1, 0)
        self.excite = sn_conv(fine, fine, 1, 1, 0)

    def forward(self, coarse, fine):
        pooled = F.adaptive_avg_pool2d(coarse, 4)
        return fine * torch.sigmoid(self.excite(F.silu(self.squeeze(pooled))))


class Generator(nn.Module):
    def __init__(self, c):
        super().__init__()
        res, gw = c['resolution'], c['g_width']
        self.g_ch = lambda side: min(gw * res // 2 // side, MAX_WIDTH)
        stages = (res // 4).bit_length() - 1
        self.iw = self.g_ch(4)
        self.init = nn.Linear(c['latent_dim'], 16 * 2 * self.iw, bias=False)
        self.init_norm = nn.BatchNorm2d(2 * self.iw)
        self.stages = nn.ModuleList(
            UpStage(self.g_ch((8 << k) // 2), self.g_ch(8 << k), (8 << k) <= DOUBLE_CONV_MAX_SIDE)
            for k in range(stages - 1))
        self.excitations = nn.ModuleList(
            SkipExcitation(self.g_ch(4 << j), self.g_ch(8 * (4 << j))) for j in range(max(stages - 3, 0)))
        self.to_image = nn.Conv2d(self.g_ch(res // 2), c['channels'], 3, 1, 1, bias=True)
        init_normal(self)

    def forward(self, z):
        x = self.init(z).reshape(z.shape[0], 2 * self.iw, 4, 4)
        x = F.glu(self.init_norm(x), dim=1)
        maps = []
        for k, stage in enumerate(self.stages):
            maps.append(x)
            x = stage(x)
            if k >= 2 and k - 2 < len(self.excitations):
                x = self.excitations[k - 2](maps[k - 2], x)
        return torch.tanh(self.to_image(F.interpolate(x, scale_factor=2, mode='nearest')))


class Decoder(nn.Module):
    def __init__(self, cin, channels, side):
        super().__init__()
        stages = (side // 8).bit_length() - 1
        widths = [max(DECODER_WIDTH >> k, 4) for k in range(stages + 1)]
        self.reduce = nn.Conv2d(cin, DECODER_WIDTH, 1)
        self.convs = nn.ModuleList(nn.Conv2d(a, 2 * b, 3, 1, 1) for a, b in zip(widths, widths[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm2d(2 * b) for b in widths[1:])
        self.to_image = nn.Conv2d(widths[-1], channels, 3, 1, 1)

    def forward(self, x):
        x = self.reduce(x)
        for conv, norm in zip(self.convs, self.norms):
            x = F.glu(norm(conv(F.interpolate(x, scale_factor=2, mode='nearest'))), dim=1)
        return torch.tanh(self.to_image(x))


class Discriminator(nn.Module):
    def __init__(self, c):
        super().__init__()
        res, dw = c['resolution'], c['d_width']
        d_ch = lambda side: min(dw * res // 2 // side, MAX_WIDTH)
        sides = [res // 2]
        while sides[-1] > 4:
            sides.append(sides[-1] // 2)
        self.res = res
        self.from_image = sn_conv(c['channels'], d_ch(res // 2), 4, 2, 1)
        self.stages = nn.ModuleList(sn_conv(d_ch(a), d_ch(b), 4, 2, 1) for a, b in zip(sides, sides[1:]))
        self.to_logit = sn_conv(d_ch(4), 1, 4, 1, 0)
        self.weight = c.get('reconstruction', 1.0)
        self.side = c.get('reconstruction_side', 16)
        if self.weight > 0:
            self.whole = Decoder(d_ch(8), c['channels'], self.side)
            self.part = Decoder(d_ch(16), c['channels'], self.side)
        init_normal(self)

    def forward(self, images, crop=None):
        x = F.leaky_relu(self.from_image(images), 0.2)
        features = [x]
        for stage in self.stages:
            x = F.leaky_relu(stage(x), 0.2)
            features.append(x)
        logits = self.to_logit(x).reshape(-1)
        if crop is None or self.weight <= 0:
            return logits, None
        coarse = next(f for f in features if f.shape[2] == 8)
        middle = next(f for f in features if f.shape[2] == 16)
        row, col = crop // 2 % 2, crop % 2
        quarter_map = middle[:, :, row * 8:row * 8 + 8, col * 8:col * 8 + 8]
        half = self.res // 2
        quarter = images[:, :, row * half:row * half + half, col * half:col * half + half]
        shrink = lambda t: F.avg_pool2d(t, t.shape[2] // self.side) if t.shape[2] > self.side else t
        loss = (self.whole(coarse) - shrink(images)).abs().mean() + \
            (self.part(quarter_map) - shrink(quarter)).abs().mean()
        return logits, loss * self.weight


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='presets/fastgan-64-rgb.toml')
    ap.add_argument('--steps', type=int, default=30)
    ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--batch', type=int, default=0, help='0 = the preset\'s')
    ap.add_argument('--threads', type=int, default=0, help='0 = all cores')
    ap.add_argument('--sample-rounds', type=int, default=4)
    ap.add_argument('--device', default='cpu', help='cpu or cuda (timings wait for the GPU)')
    ap.add_argument('--frozen-d', action='store_true',
                    help="take D's parameters off the tape for G's step, as Atelier does "
                         "(the usual loop, without it, computes D's weight gradients and drops them)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    # CUDA runs asynchronously: every timer reads the clock only once the GPU is done.
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    with open(a.preset, 'rb') as f:
        preset = tomllib.load(f)
    c, t = preset['model'], preset['train']
    batch = a.batch or t['batch']
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    G, D = Generator(c).to(dev), Discriminator(c).to(dev)
    ema = Generator(c).to(dev)
    ema.load_state_dict(G.state_dict())
    ema.requires_grad_(False)
    betas = (t.get('beta1', 0.5), t.get('beta2', 0.999))
    oG = torch.optim.Adam(G.parameters(), t.get('lr_g', 2e-4), betas=betas)
    oD = torch.optim.Adam(D.parameters(), t.get('lr_d', 2e-4), betas=betas)
    r, ch, z_dim = c['resolution'], c['channels'], c['latent_dim']
    data = torch.randint(0, 256, (batch * 8, ch, r, r), dtype=torch.uint8, device=dev)
    decay = t.get('ema_decay', 0.999)
    ms = t.get('mode_seeking', 0.0)
    timed = 0.0
    for step in range(a.warmup + a.steps):
        sync()
        t0 = time.perf_counter()
        idx = torch.randint(0, len(data), (batch,), device=dev)
        real = data[idx].float().div_(127.5).sub_(1.0)
        z = torch.randn(batch, z_dim, device=dev)
        fake = G(z)
        real_logits, recon = D(real, crop=step % 4)
        fake_logits, _ = D(fake.detach())
        loss_d = F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean() + recon
        oD.zero_grad(set_to_none=True)
        loss_d.backward()
        oD.step()
        if a.frozen_d:
            D.requires_grad_(False)
        loss_g = -D(fake)[0].mean()
        if ms > 0:
            # MSGAN's term, as Atelier's `mode_seeking_loss`: pairs (i, i + half).
            h = batch // 2
            gap = (fake[:h] - fake[h:2 * h]).abs().mean() / (z[:h] - z[h:2 * h]).abs().mean()
            loss_g = loss_g + ms / (gap + 1e-5)
        oG.zero_grad(set_to_none=True)
        loss_g.backward()
        if a.frozen_d:
            D.requires_grad_(True)
        oG.step()
        with torch.no_grad():
            d = min(decay, (1 + step) / (10 + step))
            for pe, p in zip(ema.parameters(), G.parameters()):
                pe.lerp_(p, 1 - d)
            for be, b in zip(ema.buffers(), G.buffers()):
                be.copy_(b)
        sync()
        if step >= a.warmup:
            timed += time.perf_counter() - t0

    ema.eval()
    with torch.no_grad():
        z = torch.randn(256, z_dim, device=dev)
        ema(z)
        sync()
        t0 = time.perf_counter()
        for _ in range(a.sample_rounds):
            ((ema(z) + 1) * 127.5).clamp_(0, 255).to(torch.uint8).cpu()
        sync()
        sample_ips = a.sample_rounds * 256 / (time.perf_counter() - t0)
        one = []
        for _ in range(7):
            t0 = time.perf_counter()
            ((ema(z[:1]) + 1) * 127.5).clamp_(0, 255).to(torch.uint8).cpu()
            one.append((time.perf_counter() - t0) * 1000)
    one.sort()
    print(json.dumps({'model': preset.get('name', a.preset), 'batch': batch, 'threads': torch.get_num_threads(),
                      'steps': a.steps, 'train_images_per_s': round(a.steps * batch / timed, 1),
                      'sample_images_per_s': round(sample_ips, 1), 'render_one_ms': round(one[3], 2),
                      'torch': torch.__version__, 'device': str(dev)}))


if __name__ == '__main__':
    main()
