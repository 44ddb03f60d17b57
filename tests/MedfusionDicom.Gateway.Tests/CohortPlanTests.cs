using MedfusionDicom.Gateway.Cohorts;

namespace MedfusionDicom.Gateway.Tests;

/// <summary>Who is in a cohort: the label mix, the order, the pseudonyms and the dates, all from the settings.</summary>
public sealed class CohortPlanTests
{
    private static readonly string[] Labels = ["NORMAL", "PNEUMONIA", "EDEMA"];

    [Theory]
    [InlineData(20, "NORMAL=0.5,PNEUMONIA=0.5")]
    [InlineData(20, "NORMAL=0.33,PNEUMONIA=0.33,EDEMA=0.34")]
    [InlineData(7, "NORMAL=0.1,PNEUMONIA=0.9")]
    [InlineData(1, "NORMAL=0.5,PNEUMONIA=0.5")]
    [InlineData(1000, "NORMAL=0.123,PNEUMONIA=0.456,EDEMA=0.421")]
    public void Every_label_is_within_one_patient_of_its_share_and_the_total_is_exact(int patients, string mix)
    {
        var shares = LabelShare.ParseMix(mix);
        var counts = CohortPlan.Allocate(patients, shares);
        Assert.Equal(patients, counts.Values.Sum());
        foreach (var share in shares) Assert.InRange(counts[share.Label], patients * share.Fraction - 1, patients * share.Fraction + 1);
    }

    [Fact]
    public void The_same_settings_give_the_same_patients_and_other_settings_other_ones()
    {
        var request = new CohortRequest { ModelDirectory = "m", Patients = 30, Mix = LabelShare.ParseMix("NORMAL=0.5,PNEUMONIA=0.5"), OutputDirectory = "o" };
        var plan = CohortPlan.Create(request, Labels, "fingerprint-a");
        Assert.Equal(plan.Patients, CohortPlan.Create(request, Labels, "fingerprint-a").Patients);
        var other = CohortPlan.Create(request, Labels, "fingerprint-b");
        Assert.Empty(plan.Patients.Select(p => p.StudyInstanceUid).Intersect(other.Patients.Select(p => p.StudyInstanceUid)));
        Assert.Equal(30, plan.Patients.Select(p => p.PatientId).Distinct().Count());
        Assert.All(plan.Patients, p => Assert.InRange(DateOnly.FromDateTime(p.StudyDateTime), request.FirstStudyDate, request.LastStudyDate));
        // Shuffled: a patient's number does not give its label away (the first half is not all one label).
        Assert.Equal(2, plan.Patients.Take(15).Select(p => p.Label).Distinct().Count());
        Assert.NotEqual(plan.ImageSeed(plan.Patients[0], 1, 1), plan.ImageSeed(plan.Patients[0], 1, 2));
    }

    [Theory]
    [InlineData("NORMAL", "LABEL=FRACTION")]
    [InlineData("NORMAL=abc", "LABEL=FRACTION")]
    [InlineData("", "names no label")]
    public void A_mix_that_does_not_parse_is_refused_with_an_example(string mix, string says) =>
        Assert.Contains(says, Assert.Throws<CohortException>(() => LabelShare.ParseMix(mix)).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData(0, "NORMAL=1", 1, "--patients")]
    [InlineData(5, "NORMAL=1", 0, "--images-per-patient")]
    [InlineData(5, "NORMAL=0.6,PNEUMONIA=0.6", 1, "sum to 1.2")]
    [InlineData(5, "NORMAL=0.5,NORMAL=0.5", 1, "twice")]
    [InlineData(5, "CAT=1", 1, "no label 'CAT'")]
    public void Settings_that_cannot_make_a_cohort_are_refused_naming_the_option(int patients, string mix, int perPatient, string says)
    {
        var request = new CohortRequest { ModelDirectory = "m", Patients = patients, Mix = LabelShare.ParseMix(mix), ImagesPerPatient = perPatient, OutputDirectory = "o" };
        Assert.Contains(says, Assert.Throws<CohortException>(() => request.Validate(Labels)).Message, StringComparison.Ordinal);
    }
}
