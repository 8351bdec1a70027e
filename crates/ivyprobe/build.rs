//! Links the binary compactly (see the ivy-build crate).

fn main() {
    ivy_build::link_bins_compactly();
}
