fn main() {
    let gpu = cprl::Gpu::new().unwrap();
    println!("{gpu}");
    let t = cprl::Tensor::full(&gpu, &[3, 100_000], 2.5).unwrap();
    let v = t.to_vec().unwrap();
    println!("{} {}", v[0], v[v.len() - 1]);
}
