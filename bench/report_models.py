#!/usr/bin/python3
"""Writes the two models whose full `lipschitz report` is timed in docs/report.md:

- dcgan64_critic: the DCGAN discriminator at 64×64 (Radford et al. 2016, as in the PyTorch DCGAN
  example, with BatchNorm, no final sigmoid): 3→64→128→256→512, 4×4 stride-2 convs;
- resnet18: ResNet-18 (He et al. 2016) at 3×224×224, written out here because Debian has no
  torchvision; the layout and parameter names are torchvision's.

Each as TorchScript (.pt, traced in eval mode) and ONNX (.onnx, opset 17), random weights with
BatchNorm statistics perturbed so folding is not trivial. Usage: report_models.py OUTDIR
"""
import os
import sys

import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, cin = [], 64
        for i, cout in enumerate([64, 128, 256, 512]):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def dcgan64_critic():
    return nn.Sequential(
        nn.Conv2d(3, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(128, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(256, 512, 4, 2, 1, bias=False), nn.BatchNorm2d(512), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(512, 1, 4, 1, 0, bias=False), nn.Flatten())


def perturb_batchnorm(model, generator):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1, generator=generator)
            m.running_var.uniform_(0.5, 2.0, generator=generator)
            m.weight.data.uniform_(0.5, 1.5, generator=generator)
            m.bias.data.normal_(0, 0.1, generator=generator)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    for name, model, shape in [("dcgan64_critic", dcgan64_critic(), (3, 64, 64)),
                               ("resnet18", ResNet18(), (3, 224, 224))]:
        perturb_batchnorm(model, generator)
        model.eval()
        example = torch.randn(1, *shape)
        with torch.no_grad():
            traced = torch.jit.trace(model, example)
        traced.save(os.path.join(out, name + ".pt"))
        torch.onnx.export(model, example, os.path.join(out, name + ".onnx"), opset_version=17,
                          input_names=["input"], do_constant_folding=False)
        print(os.path.join(out, name), "x".join(map(str, shape)))


if __name__ == "__main__":
    main()
