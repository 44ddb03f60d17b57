using System.Diagnostics;
using System.Globalization;
using MedfusionDicom.Diffusion.Data;
using MedfusionDicom.Diffusion.Evaluation;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Tests;

public class EvaluationTests
{
    private static Image2D Ramp(int w, int h) => new(w, h, Enumerable.Range(0, w * h).Select(i => (i % w) * 0.1f - (i / w) * 0.05f).ToArray());

    [Fact]
    public void Psnr_matches_the_closed_form()
    {
        var a = new Image2D(4, 4);
        var b = new Image2D(4, 4, Enumerable.Repeat(0.1f, 16).ToArray());
        Assert.Equal(10 * Math.Log10(4 / 0.01), ImageMetrics.Psnr(a, b), 4);
        Assert.Equal(double.PositiveInfinity, ImageMetrics.Psnr(a, a));
    }

    [Fact]
    public void Ssim_is_one_for_identical_images_and_drops_with_noise()
    {
        var img = Ramp(32, 32);
        Assert.Equal(1.0, ImageMetrics.Ssim(img, img), 6);
        var noisy = Degradations.AddNoise(img, new Random(3));
        Assert.True(ImageMetrics.Ssim(img, noisy) < 0.9);
    }

    [Fact]
    public void Median_filter_removes_isolated_salt()
    {
        var img = new Image2D(5, 5);
        img[2, 2] = 1;
        Assert.Equal(0f, ClassicBaselines.Median(img)[2, 2]);
    }

    [Fact]
    public void Harmonic_fill_reproduces_a_linear_ramp_inside_the_mask()
    {
        var img = Ramp(16, 16);
        var mask = ImageMask.Box(16, 16, 5, 4, 6, 7);
        var damaged = img.Clone();
        for (var i = 0; i < mask.Length; i++) if (mask[i]) damaged.Data[i] = 0;
        var filled = ImageFill.Harmonic(damaged, mask);
        for (var i = 0; i < mask.Length; i++) Assert.Equal(img.Data[i], filled.Data[i], 3);
    }

    [Fact]
    public void Mean_gradient_can_be_taken_inside_a_mask()
    {
        // A ramp on the left half, flat on the right: the gradient lives only where the ramp is.
        var img = new Image2D(8, 8, Enumerable.Range(0, 64).Select(p => p % 8 < 4 ? 0.1f * (p % 8) : 0.3f).ToArray());
        var right = Enumerable.Range(0, 64).Select(p => p % 8 >= 5).ToArray();
        var left = Enumerable.Range(0, 64).Select(p => p % 8 is >= 1 and <= 2).ToArray();
        Assert.Equal(0, ImageMetrics.MeanGradientMagnitude(img, right), 6);
        Assert.Equal(0.1, ImageMetrics.MeanGradientMagnitude(img, left), 6);
        Assert.InRange(ImageMetrics.MeanGradientMagnitude(img), 0.01, 0.09);
        Assert.Throws<ArgumentException>(() => ImageMetrics.MeanGradientMagnitude(img, new bool[3]));
    }

    [Fact]
    public void Bicubic_agrees_with_pytorch_interpolate()
    {
        var rng = new Random(7);
        var img = new Image2D(6, 5, Enumerable.Range(0, 30).Select(_ => (float)rng.NextDouble()).ToArray());
        var ours = ClassicBaselines.Bicubic(img, 12, 10);
        var values = string.Join(",", img.Data.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
        var script = $"import torch; x=torch.tensor([{values}],dtype=torch.float64).reshape(1,1,5,6); " +
                     "y=torch.nn.functional.interpolate(x,size=(10,12),mode='bicubic',align_corners=False); print(','.join(repr(float(v)) for v in y.flatten()))";
        var psi = new ProcessStartInfo("/usr/bin/python3", ["-c", script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, p.StandardError.ReadToEnd());
        var expected = output.Trim().Split(',').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], ours.Data[i], 5);
    }

    [Fact]
    public void Downsampling_averages_blocks()
    {
        var img = new Image2D(2, 2, [0f, 1f, 2f, 3f]);
        Assert.Equal(1.5f, Degradations.Downsample(img, 2).Data[0]);
        Assert.Throws<ArgumentException>(() => Degradations.Downsample(new Image2D(3, 3), 2));
    }

    [Fact]
    public void Npy_files_are_read_and_bad_ones_rejected()
    {
        var path = Path.Combine(Path.GetTempPath(), $"t-{Guid.NewGuid():N}.npy");
        try
        {
            var header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 3), }";
            header = header.PadRight(64 - 10 - 1) + "\n";
            using (var fs = File.Create(path))
            {
                fs.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, 0]);
                fs.Write(System.Text.Encoding.ASCII.GetBytes(header));
                fs.Write(Enumerable.Range(0, 12).Select(i => (byte)i).ToArray());
            }
            using (var npy = NpyArray.Open(path))
            {
                Assert.Equal([2L, 2L, 3L], npy.Shape);
                var item = new byte[6];
                npy.ReadItem(1, item);
                Assert.Equal(new byte[] { 6, 7, 8, 9, 10, 11 }, item);
                Assert.Throws<ArgumentOutOfRangeException>(() => npy.ReadItem(2, item));
            }
            File.WriteAllBytes(path, [1, 2, 3]);
            Assert.Throws<NpyFormatException>(() => NpyArray.Open(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [SharedDataFact]
    public void Chest_radiographs_load_with_the_official_split()
    {
        using var data = CxrDataset.Open(Path.Combine(SharedData.Root!, "cxr-pneumonia", "cxr64.npy"));
        Assert.Equal(["NORMAL", "PNEUMONIA"], data.Labels);
        Assert.Equal(624, data.Split("test").Count);
        Assert.Equal(1341 + 3875, data.Split("train").Count + data.Split("val").Count);
        Assert.InRange(data.Split("val").Count, 150, 400);
        var img = data.ReadImage(0, IntensityNormalization.OfStoredRange);
        Assert.Equal((64, 64), (img.Width, img.Height));
        Assert.All(img.Data, v => Assert.InRange(v, -1f, 1f));
    }
}
