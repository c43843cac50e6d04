// Index spaces walked by strides: loop dimensions with the strides of a, b and c along
// each, the odometer over them, and the merging of dims that walk memory as one.

/// One loop dimension: its size and the element strides of a, b and c along it.
struct Dim {
    var size: Int
    var a: Int
    var b: Int
    var c: Int
}

/// Odometer state over `dims` (last dim fastest), tracking offsets into a, b, c.
struct Odometer {
    let dims: [Dim]
    var index: [Int]
    var a = 0, b = 0, c = 0

    init(_ dims: [Dim], start: Int = 0) {
        self.dims = dims
        index = [Int](repeating: 0, count: dims.count)
        var rest = start
        for d in stride(from: dims.count - 1, through: 0, by: -1) where dims[d].size > 0 {
            let i = rest % dims[d].size
            rest /= dims[d].size
            index[d] = i
            a += i * dims[d].a; b += i * dims[d].b; c += i * dims[d].c
        }
    }

    @inline(__always) mutating func next() {
        var d = dims.count - 1
        while d >= 0 {
            index[d] += 1
            a += dims[d].a; b += dims[d].b; c += dims[d].c
            if index[d] < dims[d].size { return }
            a -= dims[d].a * dims[d].size; b -= dims[d].b * dims[d].size; c -= dims[d].c * dims[d].size
            index[d] = 0
            d -= 1
        }
    }
}

/// Merges neighbouring dims (outer first) that walk all three tensors as one: (4,10) over
/// contiguous memory becomes one run of 40, so the inner loops get long runs.
func coalesce(_ dims: [Dim]) -> [Dim] {
    var out: [Dim] = []
    for d in dims {
        if let last = out.last, last.a == d.a * d.size, last.b == d.b * d.size, last.c == d.c * d.size {
            out[out.count - 1] = Dim(size: last.size * d.size, a: d.a, b: d.b, c: d.c)
        } else {
            out.append(d)
        }
    }
    return out
}
