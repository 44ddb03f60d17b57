using MedfusionDicom.Dicom.Derived;
using MedfusionDicom.Diffusion.Training;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Tests;

public class ImageSourceTests
{
    private static DerivedImageBuilder Builder() => new(new DerivedImageProcessing
    {
        DerivationDescription = "test", AlgorithmName = "test", AlgorithmVersion = "1", SeriesDescription = "test", IsSynthetic = true,
    });

    [Fact]
    public void Dicom_folder_images_are_scaled_to_unit_range_resized_and_labelled()
    {
        var dir = Directory.CreateTempSubdirectory("dcm").FullName;
        try
        {
            var builder = Builder();
            // 8x4 images, a horizontal ramp 10..80 (first) and 20..90 (second).
            for (int k = 0; k < 2; k++)
            {
                var bytes = Enumerable.Range(0, 32).Select(p => (byte)(10 * (k + 1) + 10 * (p % 8))).ToArray();
                var pixels = new DerivedPixelData(4, 8, 1, "MONOCHROME2", 8, 8, 7, 0, bytes);
                builder.Build(null, pixels, k + 1).ToFile().Save(Path.Combine(dir, $"im{k}.dcm"));
            }
            File.WriteAllText(Path.Combine(dir, "labels.csv"), "file,label\nim0.dcm,PNEUMONIA\nim1.dcm,NORMAL\n");
            using var src = new DicomFolderImageSource(dir, Path.Combine(dir, "labels.csv"), 16, IntensityNormalization.PerImage);
            Assert.Equal(2, src.Count);
            Assert.Equal(new[] { "NORMAL", "PNEUMONIA" }, src.Labels);
            Assert.Equal(1, src.Label(0));
            var img = src.Read(0);
            Assert.Equal(256, img.Length);
            Assert.Equal(-1f, img.Min(), 5);
            Assert.Equal(1f, img.Max(), 5);
            Assert.True(img[15] > img[0]); // the ramp runs left to right
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Every_frame_of_a_multi_frame_file_is_a_training_image_with_its_files_label()
    {
        var dir = Directory.CreateTempSubdirectory("dcm-frames").FullName;
        try
        {
            var builder = Builder();
            // Three 8x8 frames of constant 30, 130 and 230, then a single-frame file.
            var frames = Enumerable.Range(0, 3).SelectMany(f => Enumerable.Repeat((byte)(30 + 100 * f), 64)).ToArray();
            builder.Build(null, new DerivedPixelData(8, 8, 1, "MONOCHROME2", 8, 8, 7, 0, frames, NumberOfFrames: 3), 1).ToFile().Save(Path.Combine(dir, "cine.dcm"));
            var single = Enumerable.Range(0, 64).Select(p => (byte)(p * 4)).ToArray();
            builder.Build(null, new DerivedPixelData(8, 8, 1, "MONOCHROME2", 8, 8, 7, 0, single), 2).ToFile().Save(Path.Combine(dir, "still.dcm"));
            File.WriteAllText(Path.Combine(dir, "labels.csv"), "file,label\ncine.dcm,PNEUMONIA\nstill.dcm,NORMAL\n");
            using var src = new DicomFolderImageSource(dir, Path.Combine(dir, "labels.csv"), 8, IntensityNormalization.Range(0, 255));
            Assert.Equal(4, src.Count);
            Assert.Equal([("cine.dcm", 0), ("cine.dcm", 1), ("cine.dcm", 2), ("still.dcm", 0)], Enumerable.Range(0, 4).Select(src.Origin));
            Assert.Equal([1, 1, 1, 0], Enumerable.Range(0, 4).Select(src.Label));
            // Read out of order: each frame is its own image (fixed 0..255 to [-1, 1]).
            Assert.All(src.Read(2), v => Assert.Equal(230 / 127.5f - 1, v, 4));
            Assert.All(src.Read(0), v => Assert.Equal(30 / 127.5f - 1, v, 4));
            Assert.All(src.Read(1), v => Assert.Equal(130 / 127.5f - 1, v, 4));
            Assert.True(src.Read(3)[63] > src.Read(3)[0]);
        }
        finally { Directory.Delete(dir, true); }
    }
}
