using MedfusionDicom.Dicom.Derived;
using MedfusionDicom.Diffusion.Training;
using MedfusionDicom.Imaging;

namespace MedfusionDicom.Diffusion.Tests;

public class ImageSourceTests
{
    [Fact]
    public void Dicom_folder_images_are_scaled_to_unit_range_resized_and_labelled()
    {
        var dir = Directory.CreateTempSubdirectory("dcm").FullName;
        try
        {
            var builder = new DerivedImageBuilder(new DerivedImageProcessing
            {
                DerivationDescription = "test", AlgorithmName = "test", AlgorithmVersion = "1", SeriesDescription = "test", IsSynthetic = true,
            });
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
}
