// softrank_pav_sort_v2: sorts each row of keys decreasingly, carrying each key's index
// (the sort of the v2 soft rank; written for CPU drivers, and correct anywhere).
//
// bindings (B rows of n values; pairs hold (key, index), key = an order-preserving
// u32 of x * scale, inverted so that ascending keys are decreasing values)
//   0 uniform Params: b, n, npad (row stride of the pair buffers: n rounded up to R),
//     width (merge4: length of the sorted runs it reads), scale (sign / strength)
//   1 storage read       x: array<f32>, [B, n]
//   2 storage read       x4: the same buffer as vec4s (read when n % 4 == 0)
//   3 storage read_write src: array<vec2<u32>>, [B, npad] sorted runs of `width`
//   4 storage read_write dst4: array<vec4<u32>>, [B, npad / 2] (two pairs per vec4)
//
// Entry points
//   runs:   one invocation per (row, run of R = 64 positions): loads R values, sorts them
//           in registers with Batcher's odd-even merge network (543 comparators, the list
//           generated), stores the run into dst4. Positions >= n get a key above every
//           finite value, so they sort last and the isotonic pass ignores them.
//   merge4, merge16: one invocation per (row, K = 4 or 16 runs of `width`): merges
//           them into one run in dst4, two outputs per loop iteration (one vec4 store),
//           the smallest head picked by a tournament of K - 1 comparisons and the
//           consumed run's next pair fetched with one vec2 load (merge code generated).
//           The host swaps the buffers per pass.
// Loop iterations: a merge runs K * width / 2 per invocation (<= npad / 2 < 65,535).
// WG 8: one SIMD vector of lavapipe per workgroup, so that few rows still spread over
// both cores (GPUs get 64: the host picks by adapter).

const R: u32 = 64u;

struct Params {
    b: u32,
    n: u32,
    npad: u32,
    width: u32,
    scale: f32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

override WG: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> src: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> dst4: array<vec4<u32>>;

// Above the key of every finite value.
const PAD: vec2<u32> = vec2<u32>(0xffffffffu, 0xffffffffu);

// Order-preserving map of f32 to u32, inverted: larger values get smaller keys.
fn to_key(f: f32) -> u32 {
    let b = bitcast<u32>(f);
    return ~select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn make_pair(v: f32, j: u32) -> vec2<u32> {
    return select(PAD, vec2<u32>(to_key(v * p.scale), j), j < p.n);
}

fn load_elem(row_x: u32, j: u32) -> vec2<u32> {
    return make_pair(x[row_x + min(j, p.n - 1u)], j);
}

fn load4(row_x: u32, j: u32) -> vec4<f32> {
    return x4[(row_x + min(j, p.n - 4u)) / 4u];
}

fn ce(a: ptr<function, vec2<u32>>, b: ptr<function, vec2<u32>>) {
    let va = *a;
    let vb = *b;
    let swap = vb.x < va.x;
    *a = select(va, vb, swap);
    *b = select(vb, va, swap);
}

@compute @workgroup_size(WG)
fn runs(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    let per_row = p.npad / R;
    if (t >= p.b * per_row) {
        return;
    }
    let n = p.n;
    let row = t / per_row;
    let j0 = (t % per_row) * R;
    let row_x = row * n;
    var v0: vec2<u32>;
    var v1: vec2<u32>;
    var v2: vec2<u32>;
    var v3: vec2<u32>;
    var v4: vec2<u32>;
    var v5: vec2<u32>;
    var v6: vec2<u32>;
    var v7: vec2<u32>;
    var v8: vec2<u32>;
    var v9: vec2<u32>;
    var v10: vec2<u32>;
    var v11: vec2<u32>;
    var v12: vec2<u32>;
    var v13: vec2<u32>;
    var v14: vec2<u32>;
    var v15: vec2<u32>;
    var v16: vec2<u32>;
    var v17: vec2<u32>;
    var v18: vec2<u32>;
    var v19: vec2<u32>;
    var v20: vec2<u32>;
    var v21: vec2<u32>;
    var v22: vec2<u32>;
    var v23: vec2<u32>;
    var v24: vec2<u32>;
    var v25: vec2<u32>;
    var v26: vec2<u32>;
    var v27: vec2<u32>;
    var v28: vec2<u32>;
    var v29: vec2<u32>;
    var v30: vec2<u32>;
    var v31: vec2<u32>;
    var v32: vec2<u32>;
    var v33: vec2<u32>;
    var v34: vec2<u32>;
    var v35: vec2<u32>;
    var v36: vec2<u32>;
    var v37: vec2<u32>;
    var v38: vec2<u32>;
    var v39: vec2<u32>;
    var v40: vec2<u32>;
    var v41: vec2<u32>;
    var v42: vec2<u32>;
    var v43: vec2<u32>;
    var v44: vec2<u32>;
    var v45: vec2<u32>;
    var v46: vec2<u32>;
    var v47: vec2<u32>;
    var v48: vec2<u32>;
    var v49: vec2<u32>;
    var v50: vec2<u32>;
    var v51: vec2<u32>;
    var v52: vec2<u32>;
    var v53: vec2<u32>;
    var v54: vec2<u32>;
    var v55: vec2<u32>;
    var v56: vec2<u32>;
    var v57: vec2<u32>;
    var v58: vec2<u32>;
    var v59: vec2<u32>;
    var v60: vec2<u32>;
    var v61: vec2<u32>;
    var v62: vec2<u32>;
    var v63: vec2<u32>;
    if (n % 4u == 0u) {
        let q0 = load4(row_x, j0 + 0u);
        v0 = make_pair(q0[0], j0 + 0u);
        v1 = make_pair(q0[1], j0 + 1u);
        v2 = make_pair(q0[2], j0 + 2u);
        v3 = make_pair(q0[3], j0 + 3u);
        let q1 = load4(row_x, j0 + 4u);
        v4 = make_pair(q1[0], j0 + 4u);
        v5 = make_pair(q1[1], j0 + 5u);
        v6 = make_pair(q1[2], j0 + 6u);
        v7 = make_pair(q1[3], j0 + 7u);
        let q2 = load4(row_x, j0 + 8u);
        v8 = make_pair(q2[0], j0 + 8u);
        v9 = make_pair(q2[1], j0 + 9u);
        v10 = make_pair(q2[2], j0 + 10u);
        v11 = make_pair(q2[3], j0 + 11u);
        let q3 = load4(row_x, j0 + 12u);
        v12 = make_pair(q3[0], j0 + 12u);
        v13 = make_pair(q3[1], j0 + 13u);
        v14 = make_pair(q3[2], j0 + 14u);
        v15 = make_pair(q3[3], j0 + 15u);
        let q4 = load4(row_x, j0 + 16u);
        v16 = make_pair(q4[0], j0 + 16u);
        v17 = make_pair(q4[1], j0 + 17u);
        v18 = make_pair(q4[2], j0 + 18u);
        v19 = make_pair(q4[3], j0 + 19u);
        let q5 = load4(row_x, j0 + 20u);
        v20 = make_pair(q5[0], j0 + 20u);
        v21 = make_pair(q5[1], j0 + 21u);
        v22 = make_pair(q5[2], j0 + 22u);
        v23 = make_pair(q5[3], j0 + 23u);
        let q6 = load4(row_x, j0 + 24u);
        v24 = make_pair(q6[0], j0 + 24u);
        v25 = make_pair(q6[1], j0 + 25u);
        v26 = make_pair(q6[2], j0 + 26u);
        v27 = make_pair(q6[3], j0 + 27u);
        let q7 = load4(row_x, j0 + 28u);
        v28 = make_pair(q7[0], j0 + 28u);
        v29 = make_pair(q7[1], j0 + 29u);
        v30 = make_pair(q7[2], j0 + 30u);
        v31 = make_pair(q7[3], j0 + 31u);
        let q8 = load4(row_x, j0 + 32u);
        v32 = make_pair(q8[0], j0 + 32u);
        v33 = make_pair(q8[1], j0 + 33u);
        v34 = make_pair(q8[2], j0 + 34u);
        v35 = make_pair(q8[3], j0 + 35u);
        let q9 = load4(row_x, j0 + 36u);
        v36 = make_pair(q9[0], j0 + 36u);
        v37 = make_pair(q9[1], j0 + 37u);
        v38 = make_pair(q9[2], j0 + 38u);
        v39 = make_pair(q9[3], j0 + 39u);
        let q10 = load4(row_x, j0 + 40u);
        v40 = make_pair(q10[0], j0 + 40u);
        v41 = make_pair(q10[1], j0 + 41u);
        v42 = make_pair(q10[2], j0 + 42u);
        v43 = make_pair(q10[3], j0 + 43u);
        let q11 = load4(row_x, j0 + 44u);
        v44 = make_pair(q11[0], j0 + 44u);
        v45 = make_pair(q11[1], j0 + 45u);
        v46 = make_pair(q11[2], j0 + 46u);
        v47 = make_pair(q11[3], j0 + 47u);
        let q12 = load4(row_x, j0 + 48u);
        v48 = make_pair(q12[0], j0 + 48u);
        v49 = make_pair(q12[1], j0 + 49u);
        v50 = make_pair(q12[2], j0 + 50u);
        v51 = make_pair(q12[3], j0 + 51u);
        let q13 = load4(row_x, j0 + 52u);
        v52 = make_pair(q13[0], j0 + 52u);
        v53 = make_pair(q13[1], j0 + 53u);
        v54 = make_pair(q13[2], j0 + 54u);
        v55 = make_pair(q13[3], j0 + 55u);
        let q14 = load4(row_x, j0 + 56u);
        v56 = make_pair(q14[0], j0 + 56u);
        v57 = make_pair(q14[1], j0 + 57u);
        v58 = make_pair(q14[2], j0 + 58u);
        v59 = make_pair(q14[3], j0 + 59u);
        let q15 = load4(row_x, j0 + 60u);
        v60 = make_pair(q15[0], j0 + 60u);
        v61 = make_pair(q15[1], j0 + 61u);
        v62 = make_pair(q15[2], j0 + 62u);
        v63 = make_pair(q15[3], j0 + 63u);
    } else {
        v0 = load_elem(row_x, j0 + 0u);
        v1 = load_elem(row_x, j0 + 1u);
        v2 = load_elem(row_x, j0 + 2u);
        v3 = load_elem(row_x, j0 + 3u);
        v4 = load_elem(row_x, j0 + 4u);
        v5 = load_elem(row_x, j0 + 5u);
        v6 = load_elem(row_x, j0 + 6u);
        v7 = load_elem(row_x, j0 + 7u);
        v8 = load_elem(row_x, j0 + 8u);
        v9 = load_elem(row_x, j0 + 9u);
        v10 = load_elem(row_x, j0 + 10u);
        v11 = load_elem(row_x, j0 + 11u);
        v12 = load_elem(row_x, j0 + 12u);
        v13 = load_elem(row_x, j0 + 13u);
        v14 = load_elem(row_x, j0 + 14u);
        v15 = load_elem(row_x, j0 + 15u);
        v16 = load_elem(row_x, j0 + 16u);
        v17 = load_elem(row_x, j0 + 17u);
        v18 = load_elem(row_x, j0 + 18u);
        v19 = load_elem(row_x, j0 + 19u);
        v20 = load_elem(row_x, j0 + 20u);
        v21 = load_elem(row_x, j0 + 21u);
        v22 = load_elem(row_x, j0 + 22u);
        v23 = load_elem(row_x, j0 + 23u);
        v24 = load_elem(row_x, j0 + 24u);
        v25 = load_elem(row_x, j0 + 25u);
        v26 = load_elem(row_x, j0 + 26u);
        v27 = load_elem(row_x, j0 + 27u);
        v28 = load_elem(row_x, j0 + 28u);
        v29 = load_elem(row_x, j0 + 29u);
        v30 = load_elem(row_x, j0 + 30u);
        v31 = load_elem(row_x, j0 + 31u);
        v32 = load_elem(row_x, j0 + 32u);
        v33 = load_elem(row_x, j0 + 33u);
        v34 = load_elem(row_x, j0 + 34u);
        v35 = load_elem(row_x, j0 + 35u);
        v36 = load_elem(row_x, j0 + 36u);
        v37 = load_elem(row_x, j0 + 37u);
        v38 = load_elem(row_x, j0 + 38u);
        v39 = load_elem(row_x, j0 + 39u);
        v40 = load_elem(row_x, j0 + 40u);
        v41 = load_elem(row_x, j0 + 41u);
        v42 = load_elem(row_x, j0 + 42u);
        v43 = load_elem(row_x, j0 + 43u);
        v44 = load_elem(row_x, j0 + 44u);
        v45 = load_elem(row_x, j0 + 45u);
        v46 = load_elem(row_x, j0 + 46u);
        v47 = load_elem(row_x, j0 + 47u);
        v48 = load_elem(row_x, j0 + 48u);
        v49 = load_elem(row_x, j0 + 49u);
        v50 = load_elem(row_x, j0 + 50u);
        v51 = load_elem(row_x, j0 + 51u);
        v52 = load_elem(row_x, j0 + 52u);
        v53 = load_elem(row_x, j0 + 53u);
        v54 = load_elem(row_x, j0 + 54u);
        v55 = load_elem(row_x, j0 + 55u);
        v56 = load_elem(row_x, j0 + 56u);
        v57 = load_elem(row_x, j0 + 57u);
        v58 = load_elem(row_x, j0 + 58u);
        v59 = load_elem(row_x, j0 + 59u);
        v60 = load_elem(row_x, j0 + 60u);
        v61 = load_elem(row_x, j0 + 61u);
        v62 = load_elem(row_x, j0 + 62u);
        v63 = load_elem(row_x, j0 + 63u);
    }
    ce(&v0, &v1); ce(&v2, &v3); ce(&v4, &v5); ce(&v6, &v7); ce(&v8, &v9); ce(&v10, &v11);
    ce(&v12, &v13); ce(&v14, &v15); ce(&v16, &v17); ce(&v18, &v19); ce(&v20, &v21); ce(&v22, &v23);
    ce(&v24, &v25); ce(&v26, &v27); ce(&v28, &v29); ce(&v30, &v31); ce(&v32, &v33); ce(&v34, &v35);
    ce(&v36, &v37); ce(&v38, &v39); ce(&v40, &v41); ce(&v42, &v43); ce(&v44, &v45); ce(&v46, &v47);
    ce(&v48, &v49); ce(&v50, &v51); ce(&v52, &v53); ce(&v54, &v55); ce(&v56, &v57); ce(&v58, &v59);
    ce(&v60, &v61); ce(&v62, &v63); ce(&v0, &v2); ce(&v1, &v3); ce(&v4, &v6); ce(&v5, &v7);
    ce(&v8, &v10); ce(&v9, &v11); ce(&v12, &v14); ce(&v13, &v15); ce(&v16, &v18); ce(&v17, &v19);
    ce(&v20, &v22); ce(&v21, &v23); ce(&v24, &v26); ce(&v25, &v27); ce(&v28, &v30); ce(&v29, &v31);
    ce(&v32, &v34); ce(&v33, &v35); ce(&v36, &v38); ce(&v37, &v39); ce(&v40, &v42); ce(&v41, &v43);
    ce(&v44, &v46); ce(&v45, &v47); ce(&v48, &v50); ce(&v49, &v51); ce(&v52, &v54); ce(&v53, &v55);
    ce(&v56, &v58); ce(&v57, &v59); ce(&v60, &v62); ce(&v61, &v63); ce(&v1, &v2); ce(&v5, &v6);
    ce(&v9, &v10); ce(&v13, &v14); ce(&v17, &v18); ce(&v21, &v22); ce(&v25, &v26); ce(&v29, &v30);
    ce(&v33, &v34); ce(&v37, &v38); ce(&v41, &v42); ce(&v45, &v46); ce(&v49, &v50); ce(&v53, &v54);
    ce(&v57, &v58); ce(&v61, &v62); ce(&v0, &v4); ce(&v1, &v5); ce(&v2, &v6); ce(&v3, &v7);
    ce(&v8, &v12); ce(&v9, &v13); ce(&v10, &v14); ce(&v11, &v15); ce(&v16, &v20); ce(&v17, &v21);
    ce(&v18, &v22); ce(&v19, &v23); ce(&v24, &v28); ce(&v25, &v29); ce(&v26, &v30); ce(&v27, &v31);
    ce(&v32, &v36); ce(&v33, &v37); ce(&v34, &v38); ce(&v35, &v39); ce(&v40, &v44); ce(&v41, &v45);
    ce(&v42, &v46); ce(&v43, &v47); ce(&v48, &v52); ce(&v49, &v53); ce(&v50, &v54); ce(&v51, &v55);
    ce(&v56, &v60); ce(&v57, &v61); ce(&v58, &v62); ce(&v59, &v63); ce(&v2, &v4); ce(&v3, &v5);
    ce(&v10, &v12); ce(&v11, &v13); ce(&v18, &v20); ce(&v19, &v21); ce(&v26, &v28); ce(&v27, &v29);
    ce(&v34, &v36); ce(&v35, &v37); ce(&v42, &v44); ce(&v43, &v45); ce(&v50, &v52); ce(&v51, &v53);
    ce(&v58, &v60); ce(&v59, &v61); ce(&v1, &v2); ce(&v3, &v4); ce(&v5, &v6); ce(&v9, &v10);
    ce(&v11, &v12); ce(&v13, &v14); ce(&v17, &v18); ce(&v19, &v20); ce(&v21, &v22); ce(&v25, &v26);
    ce(&v27, &v28); ce(&v29, &v30); ce(&v33, &v34); ce(&v35, &v36); ce(&v37, &v38); ce(&v41, &v42);
    ce(&v43, &v44); ce(&v45, &v46); ce(&v49, &v50); ce(&v51, &v52); ce(&v53, &v54); ce(&v57, &v58);
    ce(&v59, &v60); ce(&v61, &v62); ce(&v0, &v8); ce(&v1, &v9); ce(&v2, &v10); ce(&v3, &v11);
    ce(&v4, &v12); ce(&v5, &v13); ce(&v6, &v14); ce(&v7, &v15); ce(&v16, &v24); ce(&v17, &v25);
    ce(&v18, &v26); ce(&v19, &v27); ce(&v20, &v28); ce(&v21, &v29); ce(&v22, &v30); ce(&v23, &v31);
    ce(&v32, &v40); ce(&v33, &v41); ce(&v34, &v42); ce(&v35, &v43); ce(&v36, &v44); ce(&v37, &v45);
    ce(&v38, &v46); ce(&v39, &v47); ce(&v48, &v56); ce(&v49, &v57); ce(&v50, &v58); ce(&v51, &v59);
    ce(&v52, &v60); ce(&v53, &v61); ce(&v54, &v62); ce(&v55, &v63); ce(&v4, &v8); ce(&v5, &v9);
    ce(&v6, &v10); ce(&v7, &v11); ce(&v20, &v24); ce(&v21, &v25); ce(&v22, &v26); ce(&v23, &v27);
    ce(&v36, &v40); ce(&v37, &v41); ce(&v38, &v42); ce(&v39, &v43); ce(&v52, &v56); ce(&v53, &v57);
    ce(&v54, &v58); ce(&v55, &v59); ce(&v2, &v4); ce(&v3, &v5); ce(&v6, &v8); ce(&v7, &v9);
    ce(&v10, &v12); ce(&v11, &v13); ce(&v18, &v20); ce(&v19, &v21); ce(&v22, &v24); ce(&v23, &v25);
    ce(&v26, &v28); ce(&v27, &v29); ce(&v34, &v36); ce(&v35, &v37); ce(&v38, &v40); ce(&v39, &v41);
    ce(&v42, &v44); ce(&v43, &v45); ce(&v50, &v52); ce(&v51, &v53); ce(&v54, &v56); ce(&v55, &v57);
    ce(&v58, &v60); ce(&v59, &v61); ce(&v1, &v2); ce(&v3, &v4); ce(&v5, &v6); ce(&v7, &v8);
    ce(&v9, &v10); ce(&v11, &v12); ce(&v13, &v14); ce(&v17, &v18); ce(&v19, &v20); ce(&v21, &v22);
    ce(&v23, &v24); ce(&v25, &v26); ce(&v27, &v28); ce(&v29, &v30); ce(&v33, &v34); ce(&v35, &v36);
    ce(&v37, &v38); ce(&v39, &v40); ce(&v41, &v42); ce(&v43, &v44); ce(&v45, &v46); ce(&v49, &v50);
    ce(&v51, &v52); ce(&v53, &v54); ce(&v55, &v56); ce(&v57, &v58); ce(&v59, &v60); ce(&v61, &v62);
    ce(&v0, &v16); ce(&v1, &v17); ce(&v2, &v18); ce(&v3, &v19); ce(&v4, &v20); ce(&v5, &v21);
    ce(&v6, &v22); ce(&v7, &v23); ce(&v8, &v24); ce(&v9, &v25); ce(&v10, &v26); ce(&v11, &v27);
    ce(&v12, &v28); ce(&v13, &v29); ce(&v14, &v30); ce(&v15, &v31); ce(&v32, &v48); ce(&v33, &v49);
    ce(&v34, &v50); ce(&v35, &v51); ce(&v36, &v52); ce(&v37, &v53); ce(&v38, &v54); ce(&v39, &v55);
    ce(&v40, &v56); ce(&v41, &v57); ce(&v42, &v58); ce(&v43, &v59); ce(&v44, &v60); ce(&v45, &v61);
    ce(&v46, &v62); ce(&v47, &v63); ce(&v8, &v16); ce(&v9, &v17); ce(&v10, &v18); ce(&v11, &v19);
    ce(&v12, &v20); ce(&v13, &v21); ce(&v14, &v22); ce(&v15, &v23); ce(&v40, &v48); ce(&v41, &v49);
    ce(&v42, &v50); ce(&v43, &v51); ce(&v44, &v52); ce(&v45, &v53); ce(&v46, &v54); ce(&v47, &v55);
    ce(&v4, &v8); ce(&v5, &v9); ce(&v6, &v10); ce(&v7, &v11); ce(&v12, &v16); ce(&v13, &v17);
    ce(&v14, &v18); ce(&v15, &v19); ce(&v20, &v24); ce(&v21, &v25); ce(&v22, &v26); ce(&v23, &v27);
    ce(&v36, &v40); ce(&v37, &v41); ce(&v38, &v42); ce(&v39, &v43); ce(&v44, &v48); ce(&v45, &v49);
    ce(&v46, &v50); ce(&v47, &v51); ce(&v52, &v56); ce(&v53, &v57); ce(&v54, &v58); ce(&v55, &v59);
    ce(&v2, &v4); ce(&v3, &v5); ce(&v6, &v8); ce(&v7, &v9); ce(&v10, &v12); ce(&v11, &v13);
    ce(&v14, &v16); ce(&v15, &v17); ce(&v18, &v20); ce(&v19, &v21); ce(&v22, &v24); ce(&v23, &v25);
    ce(&v26, &v28); ce(&v27, &v29); ce(&v34, &v36); ce(&v35, &v37); ce(&v38, &v40); ce(&v39, &v41);
    ce(&v42, &v44); ce(&v43, &v45); ce(&v46, &v48); ce(&v47, &v49); ce(&v50, &v52); ce(&v51, &v53);
    ce(&v54, &v56); ce(&v55, &v57); ce(&v58, &v60); ce(&v59, &v61); ce(&v1, &v2); ce(&v3, &v4);
    ce(&v5, &v6); ce(&v7, &v8); ce(&v9, &v10); ce(&v11, &v12); ce(&v13, &v14); ce(&v15, &v16);
    ce(&v17, &v18); ce(&v19, &v20); ce(&v21, &v22); ce(&v23, &v24); ce(&v25, &v26); ce(&v27, &v28);
    ce(&v29, &v30); ce(&v33, &v34); ce(&v35, &v36); ce(&v37, &v38); ce(&v39, &v40); ce(&v41, &v42);
    ce(&v43, &v44); ce(&v45, &v46); ce(&v47, &v48); ce(&v49, &v50); ce(&v51, &v52); ce(&v53, &v54);
    ce(&v55, &v56); ce(&v57, &v58); ce(&v59, &v60); ce(&v61, &v62); ce(&v0, &v32); ce(&v1, &v33);
    ce(&v2, &v34); ce(&v3, &v35); ce(&v4, &v36); ce(&v5, &v37); ce(&v6, &v38); ce(&v7, &v39);
    ce(&v8, &v40); ce(&v9, &v41); ce(&v10, &v42); ce(&v11, &v43); ce(&v12, &v44); ce(&v13, &v45);
    ce(&v14, &v46); ce(&v15, &v47); ce(&v16, &v48); ce(&v17, &v49); ce(&v18, &v50); ce(&v19, &v51);
    ce(&v20, &v52); ce(&v21, &v53); ce(&v22, &v54); ce(&v23, &v55); ce(&v24, &v56); ce(&v25, &v57);
    ce(&v26, &v58); ce(&v27, &v59); ce(&v28, &v60); ce(&v29, &v61); ce(&v30, &v62); ce(&v31, &v63);
    ce(&v16, &v32); ce(&v17, &v33); ce(&v18, &v34); ce(&v19, &v35); ce(&v20, &v36); ce(&v21, &v37);
    ce(&v22, &v38); ce(&v23, &v39); ce(&v24, &v40); ce(&v25, &v41); ce(&v26, &v42); ce(&v27, &v43);
    ce(&v28, &v44); ce(&v29, &v45); ce(&v30, &v46); ce(&v31, &v47); ce(&v8, &v16); ce(&v9, &v17);
    ce(&v10, &v18); ce(&v11, &v19); ce(&v12, &v20); ce(&v13, &v21); ce(&v14, &v22); ce(&v15, &v23);
    ce(&v24, &v32); ce(&v25, &v33); ce(&v26, &v34); ce(&v27, &v35); ce(&v28, &v36); ce(&v29, &v37);
    ce(&v30, &v38); ce(&v31, &v39); ce(&v40, &v48); ce(&v41, &v49); ce(&v42, &v50); ce(&v43, &v51);
    ce(&v44, &v52); ce(&v45, &v53); ce(&v46, &v54); ce(&v47, &v55); ce(&v4, &v8); ce(&v5, &v9);
    ce(&v6, &v10); ce(&v7, &v11); ce(&v12, &v16); ce(&v13, &v17); ce(&v14, &v18); ce(&v15, &v19);
    ce(&v20, &v24); ce(&v21, &v25); ce(&v22, &v26); ce(&v23, &v27); ce(&v28, &v32); ce(&v29, &v33);
    ce(&v30, &v34); ce(&v31, &v35); ce(&v36, &v40); ce(&v37, &v41); ce(&v38, &v42); ce(&v39, &v43);
    ce(&v44, &v48); ce(&v45, &v49); ce(&v46, &v50); ce(&v47, &v51); ce(&v52, &v56); ce(&v53, &v57);
    ce(&v54, &v58); ce(&v55, &v59); ce(&v2, &v4); ce(&v3, &v5); ce(&v6, &v8); ce(&v7, &v9);
    ce(&v10, &v12); ce(&v11, &v13); ce(&v14, &v16); ce(&v15, &v17); ce(&v18, &v20); ce(&v19, &v21);
    ce(&v22, &v24); ce(&v23, &v25); ce(&v26, &v28); ce(&v27, &v29); ce(&v30, &v32); ce(&v31, &v33);
    ce(&v34, &v36); ce(&v35, &v37); ce(&v38, &v40); ce(&v39, &v41); ce(&v42, &v44); ce(&v43, &v45);
    ce(&v46, &v48); ce(&v47, &v49); ce(&v50, &v52); ce(&v51, &v53); ce(&v54, &v56); ce(&v55, &v57);
    ce(&v58, &v60); ce(&v59, &v61); ce(&v1, &v2); ce(&v3, &v4); ce(&v5, &v6); ce(&v7, &v8);
    ce(&v9, &v10); ce(&v11, &v12); ce(&v13, &v14); ce(&v15, &v16); ce(&v17, &v18); ce(&v19, &v20);
    ce(&v21, &v22); ce(&v23, &v24); ce(&v25, &v26); ce(&v27, &v28); ce(&v29, &v30); ce(&v31, &v32);
    ce(&v33, &v34); ce(&v35, &v36); ce(&v37, &v38); ce(&v39, &v40); ce(&v41, &v42); ce(&v43, &v44);
    ce(&v45, &v46); ce(&v47, &v48); ce(&v49, &v50); ce(&v51, &v52); ce(&v53, &v54); ce(&v55, &v56);
    ce(&v57, &v58); ce(&v59, &v60); ce(&v61, &v62);
    let o4 = (row * p.npad + j0) / 2u;
    dst4[o4 + 0u] = vec4<u32>(v0, v1);
    dst4[o4 + 1u] = vec4<u32>(v2, v3);
    dst4[o4 + 2u] = vec4<u32>(v4, v5);
    dst4[o4 + 3u] = vec4<u32>(v6, v7);
    dst4[o4 + 4u] = vec4<u32>(v8, v9);
    dst4[o4 + 5u] = vec4<u32>(v10, v11);
    dst4[o4 + 6u] = vec4<u32>(v12, v13);
    dst4[o4 + 7u] = vec4<u32>(v14, v15);
    dst4[o4 + 8u] = vec4<u32>(v16, v17);
    dst4[o4 + 9u] = vec4<u32>(v18, v19);
    dst4[o4 + 10u] = vec4<u32>(v20, v21);
    dst4[o4 + 11u] = vec4<u32>(v22, v23);
    dst4[o4 + 12u] = vec4<u32>(v24, v25);
    dst4[o4 + 13u] = vec4<u32>(v26, v27);
    dst4[o4 + 14u] = vec4<u32>(v28, v29);
    dst4[o4 + 15u] = vec4<u32>(v30, v31);
    dst4[o4 + 16u] = vec4<u32>(v32, v33);
    dst4[o4 + 17u] = vec4<u32>(v34, v35);
    dst4[o4 + 18u] = vec4<u32>(v36, v37);
    dst4[o4 + 19u] = vec4<u32>(v38, v39);
    dst4[o4 + 20u] = vec4<u32>(v40, v41);
    dst4[o4 + 21u] = vec4<u32>(v42, v43);
    dst4[o4 + 22u] = vec4<u32>(v44, v45);
    dst4[o4 + 23u] = vec4<u32>(v46, v47);
    dst4[o4 + 24u] = vec4<u32>(v48, v49);
    dst4[o4 + 25u] = vec4<u32>(v50, v51);
    dst4[o4 + 26u] = vec4<u32>(v52, v53);
    dst4[o4 + 27u] = vec4<u32>(v54, v55);
    dst4[o4 + 28u] = vec4<u32>(v56, v57);
    dst4[o4 + 29u] = vec4<u32>(v58, v59);
    dst4[o4 + 30u] = vec4<u32>(v60, v61);
    dst4[o4 + 31u] = vec4<u32>(v62, v63);
}

// The pair at row position pos of src, or PAD at or past `end` (a run's end).
fn next_pair(rowp: u32, pos: u32, end: u32) -> vec2<u32> {
    return select(PAD, src[rowp + min(pos, p.npad - 1u)], pos < min(end, p.npad));
}

// The state of a 4-way merge: the next unread position of each run (runs are
// `w` long from `base`, the last one clipped at npad), and each run's head.
struct Merge4 {
    base: u32,
    w: u32,
    p0: u32,
    p1: u32,
    p2: u32,
    p3: u32,
    h0: vec2<u32>,
    h1: vec2<u32>,
    h2: vec2<u32>,
    h3: vec2<u32>,
}

fn init4(m: ptr<function, Merge4>, rowp: u32, base: u32, w: u32) {
    (*m).base = base;
    (*m).w = w;
    (*m).p0 = base + 0u * w;
    (*m).h0 = next_pair(rowp, base + 0u * w, base + 1u * w);
    (*m).p1 = base + 1u * w;
    (*m).h1 = next_pair(rowp, base + 1u * w, base + 2u * w);
    (*m).p2 = base + 2u * w;
    (*m).h2 = next_pair(rowp, base + 2u * w, base + 3u * w);
    (*m).p3 = base + 3u * w;
    (*m).h3 = next_pair(rowp, base + 3u * w, base + 4u * w);
}

// One merge step: returns the smallest head (ties to the lower run) and replaces it
// by its run's next pair (PAD past the run's end): a tournament of 3 comparisons.
fn take4(m: ptr<function, Merge4>, rowp: u32) -> vec2<u32> {
    let v0_0 = (*m).h0;
    let v1_1 = (*m).h1;
    let v2_2 = (*m).h2;
    let v3_3 = (*m).h3;
    let c0_1 = v1_1.x < v0_0.x;
    let v0_1 = select(v0_0, v1_1, c0_1);
    let i0_1 = select(0u, 1u, c0_1);
    let p0_1 = select((*m).p0, (*m).p1, c0_1);
    let c2_3 = v3_3.x < v2_2.x;
    let v2_3 = select(v2_2, v3_3, c2_3);
    let i2_3 = select(2u, 3u, c2_3);
    let p2_3 = select((*m).p2, (*m).p3, c2_3);
    let c0_3 = v2_3.x < v0_1.x;
    let v0_3 = select(v0_1, v2_3, c0_3);
    let i0_3 = select(i0_1, i2_3, c0_3);
    let p0_3 = select(p0_1, p2_3, c0_3);
    let win = i0_3;
    let pos = p0_3 + 1u;
    let nv = next_pair(rowp, pos, (*m).base + (win + 1u) * (*m).w);
    (*m).p0 = select((*m).p0, pos, win == 0u);
    (*m).h0 = select((*m).h0, nv, win == 0u);
    (*m).p1 = select((*m).p1, pos, win == 1u);
    (*m).h1 = select((*m).h1, nv, win == 1u);
    (*m).p2 = select((*m).p2, pos, win == 2u);
    (*m).h2 = select((*m).h2, nv, win == 2u);
    (*m).p3 = select((*m).p3, pos, win == 3u);
    (*m).h3 = select((*m).h3, nv, win == 3u);
    return v0_3;
}

// The state of a 16-way merge: the next unread position of each run (runs are
// `w` long from `base`, the last one clipped at npad), and each run's head.
struct Merge16 {
    base: u32,
    w: u32,
    p0: u32,
    p1: u32,
    p2: u32,
    p3: u32,
    p4: u32,
    p5: u32,
    p6: u32,
    p7: u32,
    p8: u32,
    p9: u32,
    p10: u32,
    p11: u32,
    p12: u32,
    p13: u32,
    p14: u32,
    p15: u32,
    h0: vec2<u32>,
    h1: vec2<u32>,
    h2: vec2<u32>,
    h3: vec2<u32>,
    h4: vec2<u32>,
    h5: vec2<u32>,
    h6: vec2<u32>,
    h7: vec2<u32>,
    h8: vec2<u32>,
    h9: vec2<u32>,
    h10: vec2<u32>,
    h11: vec2<u32>,
    h12: vec2<u32>,
    h13: vec2<u32>,
    h14: vec2<u32>,
    h15: vec2<u32>,
}

fn init16(m: ptr<function, Merge16>, rowp: u32, base: u32, w: u32) {
    (*m).base = base;
    (*m).w = w;
    (*m).p0 = base + 0u * w;
    (*m).h0 = next_pair(rowp, base + 0u * w, base + 1u * w);
    (*m).p1 = base + 1u * w;
    (*m).h1 = next_pair(rowp, base + 1u * w, base + 2u * w);
    (*m).p2 = base + 2u * w;
    (*m).h2 = next_pair(rowp, base + 2u * w, base + 3u * w);
    (*m).p3 = base + 3u * w;
    (*m).h3 = next_pair(rowp, base + 3u * w, base + 4u * w);
    (*m).p4 = base + 4u * w;
    (*m).h4 = next_pair(rowp, base + 4u * w, base + 5u * w);
    (*m).p5 = base + 5u * w;
    (*m).h5 = next_pair(rowp, base + 5u * w, base + 6u * w);
    (*m).p6 = base + 6u * w;
    (*m).h6 = next_pair(rowp, base + 6u * w, base + 7u * w);
    (*m).p7 = base + 7u * w;
    (*m).h7 = next_pair(rowp, base + 7u * w, base + 8u * w);
    (*m).p8 = base + 8u * w;
    (*m).h8 = next_pair(rowp, base + 8u * w, base + 9u * w);
    (*m).p9 = base + 9u * w;
    (*m).h9 = next_pair(rowp, base + 9u * w, base + 10u * w);
    (*m).p10 = base + 10u * w;
    (*m).h10 = next_pair(rowp, base + 10u * w, base + 11u * w);
    (*m).p11 = base + 11u * w;
    (*m).h11 = next_pair(rowp, base + 11u * w, base + 12u * w);
    (*m).p12 = base + 12u * w;
    (*m).h12 = next_pair(rowp, base + 12u * w, base + 13u * w);
    (*m).p13 = base + 13u * w;
    (*m).h13 = next_pair(rowp, base + 13u * w, base + 14u * w);
    (*m).p14 = base + 14u * w;
    (*m).h14 = next_pair(rowp, base + 14u * w, base + 15u * w);
    (*m).p15 = base + 15u * w;
    (*m).h15 = next_pair(rowp, base + 15u * w, base + 16u * w);
}

// One merge step: returns the smallest head (ties to the lower run) and replaces it
// by its run's next pair (PAD past the run's end): a tournament of 15 comparisons.
fn take16(m: ptr<function, Merge16>, rowp: u32) -> vec2<u32> {
    let v0_0 = (*m).h0;
    let v1_1 = (*m).h1;
    let v2_2 = (*m).h2;
    let v3_3 = (*m).h3;
    let v4_4 = (*m).h4;
    let v5_5 = (*m).h5;
    let v6_6 = (*m).h6;
    let v7_7 = (*m).h7;
    let v8_8 = (*m).h8;
    let v9_9 = (*m).h9;
    let v10_10 = (*m).h10;
    let v11_11 = (*m).h11;
    let v12_12 = (*m).h12;
    let v13_13 = (*m).h13;
    let v14_14 = (*m).h14;
    let v15_15 = (*m).h15;
    let c0_1 = v1_1.x < v0_0.x;
    let v0_1 = select(v0_0, v1_1, c0_1);
    let i0_1 = select(0u, 1u, c0_1);
    let p0_1 = select((*m).p0, (*m).p1, c0_1);
    let c2_3 = v3_3.x < v2_2.x;
    let v2_3 = select(v2_2, v3_3, c2_3);
    let i2_3 = select(2u, 3u, c2_3);
    let p2_3 = select((*m).p2, (*m).p3, c2_3);
    let c4_5 = v5_5.x < v4_4.x;
    let v4_5 = select(v4_4, v5_5, c4_5);
    let i4_5 = select(4u, 5u, c4_5);
    let p4_5 = select((*m).p4, (*m).p5, c4_5);
    let c6_7 = v7_7.x < v6_6.x;
    let v6_7 = select(v6_6, v7_7, c6_7);
    let i6_7 = select(6u, 7u, c6_7);
    let p6_7 = select((*m).p6, (*m).p7, c6_7);
    let c8_9 = v9_9.x < v8_8.x;
    let v8_9 = select(v8_8, v9_9, c8_9);
    let i8_9 = select(8u, 9u, c8_9);
    let p8_9 = select((*m).p8, (*m).p9, c8_9);
    let c10_11 = v11_11.x < v10_10.x;
    let v10_11 = select(v10_10, v11_11, c10_11);
    let i10_11 = select(10u, 11u, c10_11);
    let p10_11 = select((*m).p10, (*m).p11, c10_11);
    let c12_13 = v13_13.x < v12_12.x;
    let v12_13 = select(v12_12, v13_13, c12_13);
    let i12_13 = select(12u, 13u, c12_13);
    let p12_13 = select((*m).p12, (*m).p13, c12_13);
    let c14_15 = v15_15.x < v14_14.x;
    let v14_15 = select(v14_14, v15_15, c14_15);
    let i14_15 = select(14u, 15u, c14_15);
    let p14_15 = select((*m).p14, (*m).p15, c14_15);
    let c0_3 = v2_3.x < v0_1.x;
    let v0_3 = select(v0_1, v2_3, c0_3);
    let i0_3 = select(i0_1, i2_3, c0_3);
    let p0_3 = select(p0_1, p2_3, c0_3);
    let c4_7 = v6_7.x < v4_5.x;
    let v4_7 = select(v4_5, v6_7, c4_7);
    let i4_7 = select(i4_5, i6_7, c4_7);
    let p4_7 = select(p4_5, p6_7, c4_7);
    let c8_11 = v10_11.x < v8_9.x;
    let v8_11 = select(v8_9, v10_11, c8_11);
    let i8_11 = select(i8_9, i10_11, c8_11);
    let p8_11 = select(p8_9, p10_11, c8_11);
    let c12_15 = v14_15.x < v12_13.x;
    let v12_15 = select(v12_13, v14_15, c12_15);
    let i12_15 = select(i12_13, i14_15, c12_15);
    let p12_15 = select(p12_13, p14_15, c12_15);
    let c0_7 = v4_7.x < v0_3.x;
    let v0_7 = select(v0_3, v4_7, c0_7);
    let i0_7 = select(i0_3, i4_7, c0_7);
    let p0_7 = select(p0_3, p4_7, c0_7);
    let c8_15 = v12_15.x < v8_11.x;
    let v8_15 = select(v8_11, v12_15, c8_15);
    let i8_15 = select(i8_11, i12_15, c8_15);
    let p8_15 = select(p8_11, p12_15, c8_15);
    let c0_15 = v8_15.x < v0_7.x;
    let v0_15 = select(v0_7, v8_15, c0_15);
    let i0_15 = select(i0_7, i8_15, c0_15);
    let p0_15 = select(p0_7, p8_15, c0_15);
    let win = i0_15;
    let pos = p0_15 + 1u;
    let nv = next_pair(rowp, pos, (*m).base + (win + 1u) * (*m).w);
    (*m).p0 = select((*m).p0, pos, win == 0u);
    (*m).h0 = select((*m).h0, nv, win == 0u);
    (*m).p1 = select((*m).p1, pos, win == 1u);
    (*m).h1 = select((*m).h1, nv, win == 1u);
    (*m).p2 = select((*m).p2, pos, win == 2u);
    (*m).h2 = select((*m).h2, nv, win == 2u);
    (*m).p3 = select((*m).p3, pos, win == 3u);
    (*m).h3 = select((*m).h3, nv, win == 3u);
    (*m).p4 = select((*m).p4, pos, win == 4u);
    (*m).h4 = select((*m).h4, nv, win == 4u);
    (*m).p5 = select((*m).p5, pos, win == 5u);
    (*m).h5 = select((*m).h5, nv, win == 5u);
    (*m).p6 = select((*m).p6, pos, win == 6u);
    (*m).h6 = select((*m).h6, nv, win == 6u);
    (*m).p7 = select((*m).p7, pos, win == 7u);
    (*m).h7 = select((*m).h7, nv, win == 7u);
    (*m).p8 = select((*m).p8, pos, win == 8u);
    (*m).h8 = select((*m).h8, nv, win == 8u);
    (*m).p9 = select((*m).p9, pos, win == 9u);
    (*m).h9 = select((*m).h9, nv, win == 9u);
    (*m).p10 = select((*m).p10, pos, win == 10u);
    (*m).h10 = select((*m).h10, nv, win == 10u);
    (*m).p11 = select((*m).p11, pos, win == 11u);
    (*m).h11 = select((*m).h11, nv, win == 11u);
    (*m).p12 = select((*m).p12, pos, win == 12u);
    (*m).h12 = select((*m).h12, nv, win == 12u);
    (*m).p13 = select((*m).p13, pos, win == 13u);
    (*m).h13 = select((*m).h13, nv, win == 13u);
    (*m).p14 = select((*m).p14, pos, win == 14u);
    (*m).h14 = select((*m).h14, nv, win == 14u);
    (*m).p15 = select((*m).p15, pos, win == 15u);
    (*m).h15 = select((*m).h15, nv, win == 15u);
    return v0_15;
}

// One invocation per (row, K runs of `width`): merges them into one run in dst4, two
// outputs per loop iteration (one vec4 store).
@compute @workgroup_size(WG)
fn merge4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    let w = p.width;
    let per_row = (p.npad + 4u * w - 1u) / (4u * w);
    if (t >= p.b * per_row) {
        return;
    }
    let rowp = (t / per_row) * p.npad;
    let o0 = (t % per_row) * 4u * w;
    let o1 = min(o0 + 4u * w, p.npad);
    var m: Merge4;
    init4(&m, rowp, o0, w);
    for (var o = o0; o < o1; o = o + 2u) {
        let first = take4(&m, rowp);
        let second = take4(&m, rowp);
        dst4[(rowp + o) / 2u] = vec4<u32>(first, second);
    }
}

@compute @workgroup_size(WG)
fn merge16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * WG + lid;
    let w = p.width;
    let per_row = (p.npad + 16u * w - 1u) / (16u * w);
    if (t >= p.b * per_row) {
        return;
    }
    let rowp = (t / per_row) * p.npad;
    let o0 = (t % per_row) * 16u * w;
    let o1 = min(o0 + 16u * w, p.npad);
    var m: Merge16;
    init16(&m, rowp, o0, w);
    for (var o = o0; o < o1; o = o + 2u) {
        let first = take16(&m, rowp);
        let second = take16(&m, rowp);
        dst4[(rowp + o) / 2u] = vec4<u32>(first, second);
    }
}
