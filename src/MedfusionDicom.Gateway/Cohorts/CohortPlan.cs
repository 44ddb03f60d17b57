using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MedfusionDicom.Dicom;

namespace MedfusionDicom.Gateway.Cohorts;

/// <summary>One synthetic patient: who it is, its label, and its one study.</summary>
public sealed record CohortPatient(int Number, string PatientId, string PatientName, string Label, int LabelIndex,
    string StudyInstanceUid, DateTime StudyDateTime, string AccessionNumber);

/// <summary>
/// Who is in a cohort, decided before any image is made and from nothing but the settings: the patients per label
/// (largest remainder, so each label is within one patient of its share), the order they come in (shuffled by the
/// seed, so a patient's number says nothing of its label), their pseudonyms, studies and dates, and each image's seed.
/// The same settings give the same plan, so the same seed gives the same cohort, UIDs included.
/// </summary>
public sealed class CohortPlan
{
    private readonly string _fingerprint;

    private CohortPlan(string fingerprint, IReadOnlyList<CohortPatient> patients, IReadOnlyDictionary<string, int> patientsPerLabel)
    {
        _fingerprint = fingerprint;
        Patients = patients;
        PatientsPerLabel = patientsPerLabel;
    }

    public IReadOnlyList<CohortPatient> Patients { get; }
    public IReadOnlyDictionary<string, int> PatientsPerLabel { get; }

    /// <param name="fingerprint">What makes the cohort what it is (model weights and every generation setting): UIDs and pseudonyms derive from it.</param>
    public static CohortPlan Create(CohortRequest request, IReadOnlyList<string> modelLabels, string fingerprint)
    {
        var perLabel = Allocate(request.Patients, request.Mix);
        var labels = perLabel.SelectMany(p => Enumerable.Repeat(p.Key, p.Value)).ToArray();
        new Random(unchecked((int)Hash64(fingerprint, "order"))).Shuffle(labels);
        var days = request.LastStudyDate.DayNumber - request.FirstStudyDate.DayNumber + 1;
        var patients = new List<CohortPatient>(labels.Length);
        for (var i = 0; i < labels.Length; i++)
        {
            var number = i + 1;
            var key = Invariant(number);
            var pseudonym = "SYN" + Convert.ToHexString(BitConverter.GetBytes(Hash64(fingerprint, "patient", key)))[..12];
            var day = request.FirstStudyDate.AddDays((int)(Hash64(fingerprint, "date", key) % (ulong)days));
            // Office hours, to the second: 08:00:00 to 17:59:59.
            var second = (int)(Hash64(fingerprint, "time", key) % (10 * 3600));
            var when = day.ToDateTime(new TimeOnly(8, 0)).AddSeconds(second);
            patients.Add(new CohortPatient(number, pseudonym, "SYNTHETIC^" + pseudonym, labels[i], IndexOf(modelLabels, labels[i]),
                DicomUID.FromName("cohort study", fingerprint, key).UID, when, "SYN" + number.ToString("D7", CultureInfo.InvariantCulture)));
        }
        return new CohortPlan(fingerprint, patients, perLabel);
    }

    /// <summary>
    /// Patients per label: the floor of each share, then one more for the largest remainders (ties: the order of the
    /// mix) until the total is reached. Every label is then within one patient of patients x fraction.
    /// </summary>
    public static IReadOnlyDictionary<string, int> Allocate(int patients, IReadOnlyList<LabelShare> mix)
    {
        var exact = mix.Select(s => (s.Label, Value: patients * s.Fraction)).ToList();
        var counts = exact.ToDictionary(e => e.Label, e => (int)Math.Floor(e.Value), StringComparer.Ordinal);
        var missing = patients - counts.Values.Sum();
        foreach (var (label, _) in exact.Select((e, order) => (e.Label, Key: (Remainder: e.Value - Math.Floor(e.Value), order)))
                     .OrderByDescending(x => x.Key.Remainder).ThenBy(x => x.Key.order).Take(missing))
            counts[label]++;
        return counts;
    }

    /// <summary>The seed of image <paramref name="image"/> (1-based) of a patient, at its <paramref name="attempt"/>-th try (1-based).</summary>
    public ulong ImageSeed(CohortPatient patient, int image, int attempt) =>
        Hash64(_fingerprint, "image", Invariant(patient.Number), Invariant(image), Invariant(attempt));

    /// <summary>A series' UID: one series per patient and label.</summary>
    public string SeriesUidSeed(CohortPatient patient) => _fingerprint + "/" + Invariant(patient.Number);

    private static ulong Hash64(params string[] parts) =>
        BitConverter.ToUInt64(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\u001f', parts))), 0);

    private static int IndexOf(IReadOnlyList<string> labels, string label)
    {
        for (var i = 0; i < labels.Count; i++) if (labels[i] == label) return i;
        throw new CohortException($"the model knows no label '{label}'");
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
