"""Gate matrices as pure functions of (batched) angles.

Every parametrised gate takes real angle tensors of any shape ``(...)`` and returns complex
matrices of shape ``(..., 2, 2)`` (PennyLane's definitions, angles in radians):

    RX(t)  = [[cos t/2, -i sin t/2], [-i sin t/2, cos t/2]]
    RY(t)  = [[cos t/2, -sin t/2], [sin t/2, cos t/2]]
    RZ(t)  = diag(exp(-i t/2), exp(i t/2))
    Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi)

float32 angles give complex64 matrices, float64 angles give complex128. The constant gates
``h``, ``cnot`` and ``cz`` take ``dtype``/``device``. Two-qubit matrices use the basis order
|control, target> with the first wire as the most significant bit (PennyLane's order).
"""

from __future__ import annotations

import math

import torch

__all__ = ["rx", "ry", "rz", "rot", "h", "cnot", "cz", "complex_dtype", "real_dtype", "GATES",
           "ROTATIONS"]


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """The complex dtype that matches a real (or complex) dtype: float64 -> complex128, else complex64."""
    if dtype in (torch.float64, torch.complex128):
        return torch.complex128
    return torch.complex64


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype that matches a complex (or real) dtype: complex128 -> float64, else float32."""
    if dtype in (torch.float64, torch.complex128):
        return torch.float64
    return torch.float32


def _as_angle(theta) -> torch.Tensor:
    theta = torch.as_tensor(theta)
    if not theta.is_floating_point():
        theta = theta.to(torch.get_default_dtype())
    if theta.dtype not in (torch.float32, torch.float64):
        theta = theta.float()
    return theta


def _matrix(re: list[torch.Tensor], im: list[torch.Tensor]) -> torch.Tensor:
    """Four real entries (row-major) -> complex (..., 2, 2)."""
    m = torch.complex(torch.stack(re, dim=-1), torch.stack(im, dim=-1))
    return m.reshape(*m.shape[:-1], 2, 2)


def rx(theta) -> torch.Tensor:
    """RX(theta): (...,) -> (..., 2, 2) complex."""
    theta = _as_angle(theta)
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    z = torch.zeros_like(c)
    return _matrix([c, z, z, c], [z, -s, -s, z])


def ry(theta) -> torch.Tensor:
    """RY(theta): (...,) -> (..., 2, 2) complex."""
    theta = _as_angle(theta)
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    z = torch.zeros_like(c)
    return _matrix([c, -s, s, c], [z, z, z, z])


def rz(theta) -> torch.Tensor:
    """RZ(theta): (...,) -> (..., 2, 2) complex."""
    theta = _as_angle(theta)
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    z = torch.zeros_like(c)
    return _matrix([c, z, z, c], [-s, z, z, s])


def rot(phi, theta, omega) -> torch.Tensor:
    """Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi): broadcastable (...,) -> (..., 2, 2)."""
    phi, theta, omega = torch.broadcast_tensors(_as_angle(phi), _as_angle(theta), _as_angle(omega))
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    a, b = (phi + omega) / 2, (phi - omega) / 2
    ca, sa, cb, sb = torch.cos(a), torch.sin(a), torch.cos(b), torch.sin(b)
    return _matrix([c * ca, -s * cb, s * cb, c * ca], [-c * sa, -s * sb, -s * sb, c * sa])


def h(dtype: torch.dtype = torch.complex64, device=None) -> torch.Tensor:
    """Hadamard (2, 2)."""
    r = 1 / math.sqrt(2)
    return torch.tensor([[r, r], [r, -r]], dtype=dtype, device=device)


def cnot(dtype: torch.dtype = torch.complex64, device=None) -> torch.Tensor:
    """CNOT (4, 4), wires (control, target)."""
    m = torch.zeros(4, 4, dtype=dtype, device=device)
    m[0, 0] = m[1, 1] = m[2, 3] = m[3, 2] = 1
    return m


def cz(dtype: torch.dtype = torch.complex64, device=None) -> torch.Tensor:
    """CZ (4, 4)."""
    return torch.diag(torch.tensor([1, 1, 1, -1], dtype=dtype, device=device))


#: name -> (matrix function, number of angles); constant gates take (dtype, device).
GATES = {"RX": (rx, 1), "RY": (ry, 1), "RZ": (rz, 1), "Rot": (rot, 3), "Hadamard": (h, 0),
         "CNOT": (cnot, 0), "CZ": (cz, 0)}
#: rotation letter used by templates -> gate name
ROTATIONS = {"X": "RX", "Y": "RY", "Z": "RZ"}
