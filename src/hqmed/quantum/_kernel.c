/* hqmed's compiled quantum-layer kernel: a whole circuit, forward and adjoint backward, in C.
 *
 * Built on first use by hqmed/quantum/kernel.py with the system C compiler (C99 plus GNU vector
 * types, which gcc and clang support; libm only, no torch headers, no -march flags) and loaded
 * with ctypes. See that module for the
 * build, the cache and the fallback to the pure-torch simulators.
 *
 * A circuit is a program: a header of HEADER_INTS ints (n qubits, number of gates, number of
 * weights), then OP_INTS ints per gate:
 *     code, wire a, wire b, source, index 0, index 1, index 2
 * code: G_RX/G_RY/G_RZ (one angle), G_ROT (PennyLane's Rot(phi, theta, omega) = RZ RY RZ, three
 * angles), G_H, G_CNOT (a = control, b = target), G_CZ. source: where the angles come from,
 * SRC_WEIGHTS (flat indices into the weights) or SRC_INPUTS (columns of the sample's inputs).
 * Wire 0 is the most significant bit of a basis index (PennyLane's order).
 *
 * Samples run in pairs, one per lane of a GNU C vector of two doubles (an SSE2 register on x86-64;
 * an odd batch pads its last pair with a sample whose upstream gradient is zero), on their own
 * state vectors of 2^n complex amplitudes (interleaved re, im; double precision whatever the
 * caller's dtype), one pair after the other, in order, on the calling thread. Lane arithmetic is
 * the scalar IEEE arithmetic, so a sample's results do not depend on its lane or its batch, and
 * results are identical run to run.
 *
 * Forward: single-qubit gates on a wire that no two-qubit gate has touched yet commute with
 * everything before them on other wires, so they are multiplied into that wire's 2-vector and
 * the state starts as the Kronecker product of those vectors (the encoding and the first layer's
 * rotations of a layered ansatz); the other gates are applied one by one; <Z_i> is summed from
 * |psi|^2.
 *
 * Backward (adjoint method, Jones & Gacon 2020): with L = sum_i g_i <Z_i>, lam = O psi_final for
 * O = sum_i g_i Z_i, then backwards through the gates: psi_before = M^dagger psi_after,
 * dL/dt = 2 Re sum_ab dM_ab/dt C_ab with C_ab = sum over the other wires of
 * conj(lam_after_a) psi_before_b, and lam_before = M^dagger lam_after. CNOT and CZ are their own
 * inverses. Memory: two state vectors per call (the forward is recomputed per pair, nothing is
 * kept between forward and backward).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define HQMED_KERNEL_ABI 3
#define HEADER_INTS 3
#define OP_INTS 7

enum { G_RX = 0, G_RY = 1, G_RZ = 2, G_ROT = 3, G_H = 4, G_CNOT = 5, G_CZ = 6 };
enum { SRC_NONE = 0, SRC_WEIGHTS = 1, SRC_INPUTS = 2 };
enum { OK = 0, ERR_MEMORY = 1, ERR_PROGRAM = 2 };

typedef double v2 __attribute__((vector_size(16))); /* two samples, one per lane */

int hqmed_kernel_abi(void) { return HQMED_KERNEL_ABI; }

static int n_angles(int code) { return code == G_ROT ? 3 : (code <= G_RZ ? 1 : 0); }

static double load(const void *p, int f32, size_t i) {
    return f32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static void store(void *p, int f32, size_t i, double v) {
    if (f32)
        ((float *)p)[i] = (float)v;
    else
        ((double *)p)[i] = v;
}

/* 2x2 complex matrices: 8 doubles, row-major, (re, im) per entry */
static void set8(double *m, double a, double b, double c, double d, double e, double f, double g,
                 double h) {
    m[0] = a; m[1] = b; m[2] = c; m[3] = d; m[4] = e; m[5] = f; m[6] = g; m[7] = h;
}

/* entry k of m times i/2 * sign */
static void half_i(double *out, const double *m, double sign) {
    for (int k = 0; k < 4; ++k) {
        out[2 * k] = -sign * m[2 * k + 1] / 2;
        out[2 * k + 1] = sign * m[2 * k] / 2;
    }
}

/* The gate matrix m and, when d is not NULL, d[k] = dm/dt_k for each angle. */
static void gate_matrix(int code, const double *t, double *m, double (*d)[8]) {
    double c, s;
    switch (code) {
    case G_RX:
        c = cos(t[0] / 2), s = sin(t[0] / 2);
        set8(m, c, 0, 0, -s, 0, -s, c, 0);
        if (d) set8(d[0], -s / 2, 0, 0, -c / 2, 0, -c / 2, -s / 2, 0);
        break;
    case G_RY:
        c = cos(t[0] / 2), s = sin(t[0] / 2);
        set8(m, c, 0, -s, 0, s, 0, c, 0);
        if (d) set8(d[0], -s / 2, 0, -c / 2, 0, c / 2, 0, -s / 2, 0);
        break;
    case G_RZ:
        c = cos(t[0] / 2), s = sin(t[0] / 2);
        set8(m, c, -s, 0, 0, 0, 0, c, s);
        if (d) set8(d[0], -s / 2, -c / 2, 0, 0, 0, 0, -s / 2, c / 2);
        break;
    case G_ROT: {
        /* [[c e^{-ia}, -s e^{ib}], [s e^{-ib}, c e^{ia}]], a = (phi + omega)/2, b = (phi - omega)/2 */
        double a = (t[0] + t[2]) / 2, b = (t[0] - t[2]) / 2;
        double ca = cos(a), sa = sin(a), cb = cos(b), sb = sin(b);
        c = cos(t[1] / 2), s = sin(t[1] / 2);
        set8(m, c * ca, -c * sa, -s * cb, -s * sb, s * cb, -s * sb, c * ca, c * sa);
        if (d) {
            double tmp[8];
            /* d/dphi: entries times (-i/2, +i/2, -i/2, +i/2) */
            half_i(tmp, m, 1.0);
            half_i(d[0], m, -1.0);
            d[0][2] = tmp[2], d[0][3] = tmp[3], d[0][6] = tmp[6], d[0][7] = tmp[7];
            /* d/dtheta */
            set8(d[1], -s / 2 * ca, s / 2 * sa, -c / 2 * cb, -c / 2 * sb, c / 2 * cb, -c / 2 * sb,
                 -s / 2 * ca, -s / 2 * sa);
            /* d/domega: entries times (-i/2, -i/2, +i/2, +i/2) */
            half_i(d[2], m, -1.0);
            d[2][4] = tmp[4], d[2][5] = tmp[5], d[2][6] = tmp[6], d[2][7] = tmp[7];
        }
        break;
    }
    case G_H: {
        double r = 1 / sqrt(2.0);
        set8(m, r, 0, r, 0, r, 0, -r, 0);
        break;
    }
    default:
        break;
    }
}

/* psi <- m psi on wire w (adjoint: psi <- m^dagger psi) */
static void apply1(v2 *psi, int n, int w, const v2 *m, int adjoint) {
    size_t s = (size_t)1 << (n - 1 - w), dim = (size_t)1 << n;
    v2 a0r = m[0], a0i = m[1], a1r = m[2], a1i = m[3], b0r = m[4], b0i = m[5], b1r = m[6],
       b1i = m[7];
    if (adjoint) { /* [[conj m00, conj m10], [conj m01, conj m11]] */
        a0r = m[0], a0i = -m[1], a1r = m[4], a1i = -m[5];
        b0r = m[2], b0i = -m[3], b1r = m[6], b1i = -m[7];
    }
    for (size_t base = 0; base < dim; base += 2 * s) {
        for (size_t k = base; k < base + s; ++k) {
            v2 *p = psi + 2 * k, *q = psi + 2 * (k + s);
            v2 pr = p[0], pi = p[1], qr = q[0], qi = q[1];
            p[0] = a0r * pr - a0i * pi + a1r * qr - a1i * qi;
            p[1] = a0r * pi + a0i * pr + a1r * qi + a1i * qr;
            q[0] = b0r * pr - b0i * pi + b1r * qr - b1i * qi;
            q[1] = b0r * pi + b0i * pr + b1r * qi + b1i * qr;
        }
    }
}

/* One backward step of a single-qubit gate: psi <- m^dagger psi, cmat += sum conj(lam_a) psi_b
 * (lam before its update), lam <- m^dagger lam. */
static void adjoint1(v2 *psi, v2 *lam, int n, int w, const v2 *m, v2 *cmat) {
    size_t s = (size_t)1 << (n - 1 - w), dim = (size_t)1 << n;
    v2 a0r = m[0], a0i = -m[1], a1r = m[4], a1i = -m[5];
    v2 b0r = m[2], b0i = -m[3], b1r = m[6], b1i = -m[7];
    v2 zero = {0, 0};
    v2 c00r = zero, c00i = zero, c01r = zero, c01i = zero, c10r = zero, c10i = zero, c11r = zero,
       c11i = zero;
    for (size_t base = 0; base < dim; base += 2 * s) {
        for (size_t k = base; k < base + s; ++k) {
            v2 *p = psi + 2 * k, *q = psi + 2 * (k + s);
            v2 *u = lam + 2 * k, *v = lam + 2 * (k + s);
            v2 pr = p[0], pi = p[1], qr = q[0], qi = q[1];
            v2 xr = a0r * pr - a0i * pi + a1r * qr - a1i * qi;
            v2 xi = a0r * pi + a0i * pr + a1r * qi + a1i * qr;
            v2 yr = b0r * pr - b0i * pi + b1r * qr - b1i * qi;
            v2 yi = b0r * pi + b0i * pr + b1r * qi + b1i * qr;
            p[0] = xr, p[1] = xi, q[0] = yr, q[1] = yi;
            v2 ur = u[0], ui = u[1], vr = v[0], vi = v[1];
            /* conj(lam_a) psi_b */
            c00r += ur * xr + ui * xi, c00i += ur * xi - ui * xr;
            c01r += ur * yr + ui * yi, c01i += ur * yi - ui * yr;
            c10r += vr * xr + vi * xi, c10i += vr * xi - vi * xr;
            c11r += vr * yr + vi * yi, c11i += vr * yi - vi * yr;
            u[0] = a0r * ur - a0i * ui + a1r * vr - a1i * vi;
            u[1] = a0r * ui + a0i * ur + a1r * vi + a1i * vr;
            v[0] = b0r * ur - b0i * ui + b1r * vr - b1i * vi;
            v[1] = b0r * ui + b0i * ur + b1r * vi + b1i * vr;
        }
    }
    cmat[0] = c00r, cmat[1] = c00i, cmat[2] = c01r, cmat[3] = c01i;
    cmat[4] = c10r, cmat[5] = c10i, cmat[6] = c11r, cmat[7] = c11i;
}

/* the two-qubit gates are their own inverses; both act only where the control bit is 1, so the
 * loop runs over the indices with bits a and b cleared (zeros inserted at both positions) */
static void apply2(v2 *psi, int n, int code, int a, int b) {
    size_t ca = (size_t)1 << (n - 1 - a), tb = (size_t)1 << (n - 1 - b);
    size_t lo = ca < tb ? ca : tb, hi = ca < tb ? tb : ca, quarter = (size_t)1 << (n - 2);
    for (size_t k = 0; k < quarter; ++k) {
        size_t j = ((k & ~(lo - 1)) << 1) | (k & (lo - 1));
        j = (((j & ~(hi - 1)) << 1) | (j & (hi - 1))) | ca; /* control 1, target 0 */
        size_t t = j | tb;
        if (code == G_CNOT) {
            v2 r = psi[2 * j], i = psi[2 * j + 1];
            psi[2 * j] = psi[2 * t], psi[2 * j + 1] = psi[2 * t + 1];
            psi[2 * t] = r, psi[2 * t + 1] = i;
        } else {
            psi[2 * t] = -psi[2 * t], psi[2 * t + 1] = -psi[2 * t + 1];
        }
    }
}

#define MAT 32 /* per gate: the matrix, then the derivative for each of up to 3 angles */

typedef struct {
    int n, nops, nw, batch, f32;
    const int32_t *ops;
    const void *x, *w;
    v2 *mats; /* nops x MAT: gates of weights and constants, both lanes (inputs: per pair) */
    unsigned char *absorbed;
} circuit;

static void angles_of(const circuit *c, const int32_t *op, size_t sample, double *t) {
    int k = n_angles(op[0]);
    for (int j = 0; j < k; ++j) {
        if (op[3] == SRC_INPUTS)
            t[j] = load(c->x, c->f32, sample * (size_t)c->n + op[4 + j]);
        else
            t[j] = load(c->w, c->f32, op[4 + j]);
    }
}

/* the samples of pair p, lane by lane (an odd batch repeats its last sample in lane 1) */
static size_t lane_sample(const circuit *c, size_t pair, int lane) {
    size_t s = 2 * pair + lane;
    return s < (size_t)c->batch ? s : (size_t)c->batch - 1;
}

static int prepare(circuit *c, int grad) { /* grad: also the derivative matrices */
    int touched[64] = {0};
    if (c->n < 1 || c->n > 40) return ERR_PROGRAM;
    c->mats = malloc(((size_t)c->nops * MAT + 1) * sizeof(v2));
    c->absorbed = calloc((size_t)c->nops + 1, 1);
    if (!c->mats || !c->absorbed) return ERR_MEMORY;
    for (int k = 0; k < c->nops; ++k) {
        const int32_t *op = c->ops + (size_t)k * OP_INTS;
        int code = op[0], a = op[1], b = op[2];
        if (code < G_RX || code > G_CZ || a < 0 || a >= c->n) return ERR_PROGRAM;
        if (code == G_CNOT || code == G_CZ) {
            if (b < 0 || b >= c->n || b == a) return ERR_PROGRAM;
            touched[a] = touched[b] = 1;
            continue;
        }
        int limit = op[3] == SRC_WEIGHTS ? c->nw : op[3] == SRC_INPUTS ? c->n : 0;
        for (int j = 0; j < n_angles(code); ++j)
            if (op[4 + j] < 0 || op[4 + j] >= limit) return ERR_PROGRAM;
        c->absorbed[k] = !touched[a];
        if (op[3] != SRC_INPUTS) {
            double t[3], m[MAT] = {0};
            angles_of(c, op, 0, t);
            gate_matrix(code, t, m, grad ? (double(*)[8])(m + 8) : NULL);
            for (int e = 0; e < MAT; ++e) c->mats[(size_t)k * MAT + e] = (v2){m[e], m[e]};
        }
    }
    return OK;
}

static void release(circuit *c) {
    free(c->mats);
    free(c->absorbed);
}

/* matrix of gate k and its derivatives (MAT entries) for pair p: the inputs' gates are built in
 * scratch, lane by lane */
static const v2 *matrix_of(const circuit *c, int k, size_t pair, v2 *scratch, int grad) {
    const int32_t *op = c->ops + (size_t)k * OP_INTS;
    if (op[3] != SRC_INPUTS) return c->mats + (size_t)k * MAT;
    for (int lane = 0; lane < 2; ++lane) {
        double t[3], m[MAT] = {0};
        angles_of(c, op, lane_sample(c, pair, lane), t);
        gate_matrix(op[0], t, m, grad ? (double(*)[8])(m + 8) : NULL);
        for (int e = 0; e < (grad ? MAT : 8); ++e) scratch[e][lane] = m[e];
    }
    return scratch;
}

/* final states of one pair */
static void run_forward(const circuit *c, size_t pair, v2 *psi) {
    int n = c->n;
    v2 u[64][4], one = {1, 1}, zero = {0, 0};
    for (int w = 0; w < n; ++w) u[w][0] = one, u[w][1] = zero, u[w][2] = zero, u[w][3] = zero;
    v2 scratch[MAT];
    for (int k = 0; k < c->nops; ++k) {
        if (!c->absorbed[k]) continue;
        const v2 *m = matrix_of(c, k, pair, scratch, 0);
        v2 *v = u[c->ops[(size_t)k * OP_INTS + 1]];
        v2 pr = v[0], pi = v[1], qr = v[2], qi = v[3];
        v[0] = m[0] * pr - m[1] * pi + m[2] * qr - m[3] * qi;
        v[1] = m[0] * pi + m[1] * pr + m[2] * qi + m[3] * qr;
        v[2] = m[4] * pr - m[5] * pi + m[6] * qr - m[7] * qi;
        v[3] = m[4] * pi + m[5] * pr + m[6] * qi + m[7] * qr;
    }
    psi[0] = one, psi[1] = zero;
    size_t size = 1;
    for (int w = 0; w < n; ++w, size *= 2) { /* wire 0 ends up the most significant bit */
        for (size_t j = size; j-- > 0;) {
            v2 r = psi[2 * j], i = psi[2 * j + 1];
            psi[4 * j + 2] = r * u[w][2] - i * u[w][3], psi[4 * j + 3] = r * u[w][3] + i * u[w][2];
            psi[4 * j] = r * u[w][0] - i * u[w][1], psi[4 * j + 1] = r * u[w][1] + i * u[w][0];
        }
    }
    for (int k = 0; k < c->nops; ++k) {
        const int32_t *op = c->ops + (size_t)k * OP_INTS;
        if (c->absorbed[k]) continue;
        if (op[0] == G_CNOT || op[0] == G_CZ)
            apply2(psi, n, op[0], op[1], op[2]);
        else
            apply1(psi, n, op[1], matrix_of(c, k, pair, scratch, 0), 0);
    }
}

/* <Z_i> of every wire: out[i] = sum_j |psi_j|^2 (1 - 2 bit_i(j)) */
int hqmed_expval(const int32_t *program, int batch, int f32, const void *x, const void *w,
                 void *out) {
    int n = program[0];
    circuit c = {n, program[1], program[2], batch, f32, program + HEADER_INTS, x, w, NULL, NULL};
    int rc = prepare(&c, 0);
    size_t dim = (size_t)1 << n;
    v2 *psi = rc == OK ? malloc(2 * dim * sizeof(v2)) : NULL;
    v2 acc[64];
    if (rc == OK && !psi) rc = ERR_MEMORY;
    for (size_t pair = 0; rc == OK && 2 * pair < (size_t)batch; ++pair) {
        run_forward(&c, pair, psi);
        for (int i = 0; i < n; ++i) acc[i] = (v2){0, 0};
        for (size_t j = 0; j < dim; ++j) {
            v2 p = psi[2 * j] * psi[2 * j] + psi[2 * j + 1] * psi[2 * j + 1];
            for (int i = 0; i < n; ++i) acc[i] += (j >> (n - 1 - i)) & 1 ? -p : p;
        }
        for (int lane = 0; lane < 2 && 2 * pair + lane < (size_t)batch; ++lane)
            for (int i = 0; i < n; ++i) store(out, f32, (2 * pair + lane) * n + i, acc[i][lane]);
    }
    free(psi);
    release(&c);
    return rc;
}

/* dL/dx (B, n) and dL/dw (summed over the batch, in sample order) for
 * L = sum_{b,i} g[b, i] <Z_i>_b; gx or gw may be NULL (not needed). */
int hqmed_expval_grad(const int32_t *program, int batch, int f32, const void *x, const void *w,
                      const void *g, void *gx, void *gw) {
    int n = program[0], nops = program[1], nw = program[2];
    const int32_t *ops = program + HEADER_INTS;
    circuit c = {n, nops, nw, batch, f32, ops, x, w, NULL, NULL};
    int rc = prepare(&c, 1);
    size_t dim = (size_t)1 << n;
    v2 *psi = rc == OK ? malloc(4 * dim * sizeof(v2)) : NULL;
    double *gw_acc = rc == OK ? calloc((size_t)nw + 1, sizeof(double)) : NULL;
    v2 gx_acc[64], gi[64];
    if (rc == OK && (!psi || !gw_acc)) rc = ERR_MEMORY;
    v2 *lam = psi ? psi + 2 * dim : NULL;
    int first = nops; /* the earliest gate whose angles need a gradient */
    for (int k = 0; rc == OK && k < nops; ++k) {
        int src = ops[(size_t)k * OP_INTS + 3];
        if (n_angles(ops[(size_t)k * OP_INTS]) && ((src == SRC_WEIGHTS && gw) || (src == SRC_INPUTS && gx))) {
            first = k;
            break;
        }
    }
    for (size_t pair = 0; rc == OK && 2 * pair < (size_t)batch; ++pair) {
        int lanes = 2 * pair + 1 < (size_t)batch ? 2 : 1; /* a padding lane gets g = 0 */
        for (int i = 0; i < n; ++i) {
            gx_acc[i] = (v2){0, 0};
            for (int lane = 0; lane < 2; ++lane)
                gi[i][lane] = lane < lanes ? load(g, f32, (2 * pair + lane) * n + i) : 0.0;
        }
        run_forward(&c, pair, psi);
        for (size_t j = 0; j < dim; ++j) {
            v2 o = {0, 0};
            for (int i = 0; i < n; ++i) o += (j >> (n - 1 - i)) & 1 ? -gi[i] : gi[i];
            lam[2 * j] = o * psi[2 * j], lam[2 * j + 1] = o * psi[2 * j + 1];
        }
        for (int k = nops - 1; k >= first; --k) {
            const int32_t *op = ops + (size_t)k * OP_INTS;
            int code = op[0], src = op[3], na = n_angles(code);
            if (code == G_CNOT || code == G_CZ) {
                apply2(psi, n, code, op[1], op[2]);
                apply2(lam, n, code, op[1], op[2]);
                continue;
            }
            v2 scratch[MAT], cm[8];
            int need = na && ((src == SRC_WEIGHTS && gw) || (src == SRC_INPUTS && gx));
            const v2 *m = matrix_of(&c, k, pair, scratch, need);
            if (!need) {
                apply1(psi, n, op[1], m, 1);
                apply1(lam, n, op[1], m, 1);
                continue;
            }
            adjoint1(psi, lam, n, op[1], m, cm);
            for (int a = 0; a < na; ++a) {
                v2 v = {0, 0};
                const v2 *d = m + 8 * (a + 1);
                for (int e = 0; e < 4; ++e) v += d[2 * e] * cm[2 * e] - d[2 * e + 1] * cm[2 * e + 1];
                v *= 2;
                if (src == SRC_WEIGHTS)
                    for (int lane = 0; lane < lanes; ++lane) gw_acc[op[4 + a]] += v[lane];
                else
                    gx_acc[op[4 + a]] += v;
            }
        }
        if (gx)
            for (int lane = 0; lane < lanes; ++lane)
                for (int i = 0; i < n; ++i) store(gx, f32, (2 * pair + lane) * n + i, gx_acc[i][lane]);
    }
    if (rc == OK && gw)
        for (int p = 0; p < nw; ++p) store(gw, f32, p, gw_acc[p]);
    free(psi);
    free(gw_acc);
    release(&c);
    return rc;
}
