using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Evaluation;

/// <summary>
/// Distribution metrics of generated images in a feature space (rows = images): a Fréchet distance (FID's formula; our
/// features come from a classifier trained on the real train split, since Inception weights are not available here)
/// and improved precision/recall (Kynkäänniemi et al. 2019, k-NN balls). Plus the memorization check.
/// </summary>
public static class SynthesisMetrics
{
    /// <summary>|μ_a - μ_b|² + Tr(Σ_a + Σ_b - 2 (Σ_a^½ Σ_b Σ_a^½)^½).</summary>
    public static double FrechetDistance(double[][] a, double[][] b)
    {
        var (ma, ca) = MeanCov(a);
        var (mb, cb) = MeanCov(b);
        int d = ma.Length;
        double meanTerm = 0;
        for (int i = 0; i < d; i++) meanTerm += (ma[i] - mb[i]) * (ma[i] - mb[i]);
        var sa = SymmetricFunction(ca, Math.Sqrt);
        var m = Multiply(Multiply(sa, cb), sa);
        var (vals, _) = Jacobi(m);
        double trSqrt = vals.Sum(v => Math.Sqrt(Math.Max(v, 0)));
        double tr = 0;
        for (int i = 0; i < d; i++) tr += ca[i, i] + cb[i, i];
        return meanTerm + tr - 2 * trSqrt;
    }

    /// <summary>
    /// Precision: fraction of fake samples inside some real sample's k-NN ball (radius = distance to its k-th nearest
    /// real neighbour); recall: the same with the roles swapped.
    /// </summary>
    public static (double precision, double recall) PrecisionRecall(double[][] real, double[][] fake, int k = 3) =>
        (Coverage(real, fake, k), Coverage(fake, real, k));

    private static double Coverage(double[][] manifold, double[][] queries, int k)
    {
        var radii = manifold.Select(p => manifold.Select(q => Dist(p, q)).Order().Skip(Math.Min(k, manifold.Length - 1)).First()).ToArray();
        int inside = queries.Count(q => manifold.Where((p, i) => Dist(p, q) <= radii[i]).Any());
        return (double)inside / queries.Length;
    }

    /// <summary>The training image most similar to a sample by SSIM (memorization check): its index and SSIM.</summary>
    public static (int index, double ssim) NearestBySsim(Image2D sample, IReadOnlyList<Image2D> training)
    {
        int best = -1;
        double bestSsim = double.NegativeInfinity;
        var reference = new SsimReference(sample);
        for (int i = 0; i < training.Count; i++)
        {
            double s = reference.Ssim(training[i]);
            if (s > bestSsim) { bestSsim = s; best = i; }
        }
        return (best, bestSsim);
    }

    private static double Dist(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
        return Math.Sqrt(s);
    }

    private static (double[] mean, double[,] cov) MeanCov(double[][] x)
    {
        int n = x.Length, d = x[0].Length;
        if (n < 2) throw new ArgumentException("a covariance needs at least two samples");
        var mean = new double[d];
        foreach (var r in x) for (int i = 0; i < d; i++) mean[i] += r[i] / n;
        var cov = new double[d, d];
        foreach (var r in x)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) cov[i, j] += (r[i] - mean[i]) * (r[j] - mean[j]) / (n - 1);
        return (mean, cov);
    }

    private static double[,] Multiply(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), m = b.GetLength(1), k = a.GetLength(1);
        var c = new double[n, m];
        for (int i = 0; i < n; i++)
            for (int l = 0; l < k; l++)
            {
                double v = a[i, l];
                if (v == 0) continue;
                for (int j = 0; j < m; j++) c[i, j] += v * b[l, j];
            }
        return c;
    }

    /// <summary>f applied to a symmetric positive semi-definite matrix through its eigen-decomposition.</summary>
    private static double[,] SymmetricFunction(double[,] s, Func<double, double> f)
    {
        var (vals, vecs) = Jacobi(s);
        int d = vals.Length;
        var r = new double[d, d];
        for (int k = 0; k < d; k++)
        {
            double fv = f(Math.Max(vals[k], 0));
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) r[i, j] += vecs[i, k] * fv * vecs[j, k];
        }
        return r;
    }

    /// <summary>Cyclic Jacobi eigen-decomposition of a symmetric matrix: eigenvalues and eigenvectors (columns).</summary>
    private static (double[] values, double[,] vectors) Jacobi(double[,] input)
    {
        int n = input.GetLength(0);
        var a = (double[,])input.Clone();
        var v = new double[n, n];
        for (int i = 0; i < n; i++) v[i, i] = 1;
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (int p = 0; p < n; p++) for (int q = p + 1; q < n; q++) off += a[p, q] * a[p, q];
            if (off < 1e-22) break;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++)
                {
                    if (Math.Abs(a[p, q]) < 1e-300) continue;
                    double theta = (a[q, q] - a[p, p]) / (2 * a[p, q]);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[k, p], akq = a[k, q];
                        a[k, p] = c * akp - s * akq;
                        a[k, q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[p, k], aqk = a[q, k];
                        a[p, k] = c * apk - s * aqk;
                        a[q, k] = s * apk + c * aqk;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double vkp = v[k, p], vkq = v[k, q];
                        v[k, p] = c * vkp - s * vkq;
                        v[k, q] = s * vkp + c * vkq;
                    }
                }
        }
        return (Enumerable.Range(0, n).Select(i => a[i, i]).ToArray(), v);
    }
}
