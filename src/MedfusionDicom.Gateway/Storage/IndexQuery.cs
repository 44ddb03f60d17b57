using System.Globalization;
using System.Text;
using Dapper;

namespace MedfusionDicom.Gateway.Storage;

public enum QueryLevel { Study, Series, Instance }

/// <summary>How one query key is matched (PS3.4 C.2.2.2): a UID list, a single value or wildcard, a date range, a number.</summary>
public enum MatchKind { UidList, Text, PersonName, DateRange, Number, ModalityInStudy }

/// <summary>One query key the index can match: its DICOM keyword, its column and how it matches.</summary>
public sealed record QueryKey(string Keyword, string Column, MatchKind Kind, QueryLevel Level);

/// <summary>One row of a search: the attributes the index holds at that level, by keyword.</summary>
public sealed record QueryRow(IReadOnlyDictionary<string, object?> Values);

/// <summary>
/// The index's searches (QIDO-RS): a key's value is always a parameter, and a key that is not in <see cref="Keys"/>
/// never reaches SQL, so no request text is ever part of a statement.
/// </summary>
public static class IndexQuery
{
    public static IReadOnlyList<QueryKey> Keys { get; } =
    [
        new("StudyInstanceUID", "study_uid", MatchKind.UidList, QueryLevel.Study),
        new("PatientID", "patient_id", MatchKind.Text, QueryLevel.Study),
        new("PatientName", "patient_name", MatchKind.PersonName, QueryLevel.Study),
        new("StudyDate", "study_date", MatchKind.DateRange, QueryLevel.Study),
        new("StudyDescription", "study_description", MatchKind.Text, QueryLevel.Study),
        new("AccessionNumber", "accession_number", MatchKind.Text, QueryLevel.Study),
        new("ModalitiesInStudy", "modality", MatchKind.ModalityInStudy, QueryLevel.Study),
        new("StudyTime", "study_time", MatchKind.Text, QueryLevel.Study),
        new("StudyID", "study_id", MatchKind.Text, QueryLevel.Study),
        new("ReferringPhysicianName", "referring_physician", MatchKind.PersonName, QueryLevel.Study),
        new("PatientBirthDate", "patient_birth_date", MatchKind.DateRange, QueryLevel.Study),
        new("PatientSex", "patient_sex", MatchKind.Text, QueryLevel.Study),
        new("SeriesInstanceUID", "series_uid", MatchKind.UidList, QueryLevel.Series),
        new("Modality", "modality", MatchKind.Text, QueryLevel.Series),
        new("SeriesNumber", "series_number", MatchKind.Number, QueryLevel.Series),
        new("SeriesDescription", "series_description", MatchKind.Text, QueryLevel.Series),
        new("SOPInstanceUID", "sop_instance_uid", MatchKind.UidList, QueryLevel.Instance),
        new("SOPClassUID", "sop_class_uid", MatchKind.UidList, QueryLevel.Instance),
        new("InstanceNumber", "instance_number", MatchKind.Number, QueryLevel.Instance),
    ];

    public static QueryKey? Key(string keyword) => Keys.FirstOrDefault(k => k.Keyword.Equals(keyword, StringComparison.Ordinal));

    /// <summary>The rows of <paramref name="level"/> matching every filter, ordered by UID, from <paramref name="offset"/>, at most <paramref name="limit"/>.</summary>
    /// <param name="fuzzyNames">
    /// Person names match fuzzily (QIDO-RS fuzzymatching=true): each word of the value must begin a word of the name
    /// (components and their parts, split at ^, = and spaces), in any order and any case. "smi jo" matches SMITH^JOHN.
    /// </param>
    public static async Task<IReadOnlyList<QueryRow>> SearchAsync(this GatewayIndex index, QueryLevel level, IReadOnlyList<(QueryKey Key, string Value)> filters,
        int limit, int offset, bool fuzzyNames = false, CancellationToken ct = default)
    {
        var where = new StringBuilder("1 = 1");
        var parameters = new DynamicParameters();
        for (var i = 0; i < filters.Count; i++)
        {
            var (key, value) = filters[i];
            var p = "@p" + i.ToString(CultureInfo.InvariantCulture);
            where.Append(" AND ").Append(fuzzyNames && key.Kind == MatchKind.PersonName
                ? FuzzyNameCondition(index.Database, key, value, p, parameters)
                : Condition(index.Database, key, value, p, parameters));
        }

        var database = index.Database;
        var sql = level switch
        {
            QueryLevel.Study => $"""
                SELECT study_uid AS StudyInstanceUID, MAX(patient_id) AS PatientID, MAX(patient_name) AS PatientName, MAX(study_date) AS StudyDate,
                    MAX(study_description) AS StudyDescription, MAX(accession_number) AS AccessionNumber, {database.DistinctJoin("modality")} AS ModalitiesInStudy,
                    MAX(study_time) AS StudyTime, MAX(study_id) AS StudyID, MAX(referring_physician) AS ReferringPhysicianName,
                    MAX(patient_birth_date) AS PatientBirthDate, MAX(patient_sex) AS PatientSex,
                    COUNT(DISTINCT series_uid) AS NumberOfStudyRelatedSeries, COUNT(*) AS NumberOfStudyRelatedInstances
                FROM instances i WHERE study_uid IN (SELECT study_uid FROM instances i WHERE {where}) GROUP BY study_uid ORDER BY study_uid
                """,
            QueryLevel.Series => $"""
                SELECT study_uid AS StudyInstanceUID, series_uid AS SeriesInstanceUID, MAX(modality) AS Modality, MAX(series_number) AS SeriesNumber,
                    MAX(series_description) AS SeriesDescription, COUNT(*) AS NumberOfSeriesRelatedInstances
                FROM instances i WHERE series_uid IN (SELECT series_uid FROM instances i WHERE {where}) GROUP BY study_uid, series_uid ORDER BY series_uid
                """,
            _ => $"""
                SELECT study_uid AS StudyInstanceUID, series_uid AS SeriesInstanceUID, sop_instance_uid AS SOPInstanceUID, sop_class_uid AS SOPClassUID,
                    instance_number AS InstanceNumber, modality AS Modality, patient_id AS PatientID, patient_name AS PatientName, study_date AS StudyDate
                FROM instances i WHERE {where} ORDER BY sop_instance_uid
                """,
        };
        parameters.Add("limit", limit);
        parameters.Add("offset", offset);
        await using var connection = await database.OpenAsync(ct).ConfigureAwait(false);
        var rows = await connection.QueryAsync(sql + " LIMIT @limit OFFSET @offset", parameters).ConfigureAwait(false);
        return rows.Select(r => new QueryRow(((IDictionary<string, object?>)r).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal))).ToList();
    }

    private static string FuzzyNameCondition(IndexDatabase database, QueryKey key, string value, string p, DynamicParameters parameters)
    {
        var words = value.Split([' ', '^', '='], StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0) return "1 = 1";
        // The name's words, each after a space, in upper case: a word of the value then begins one where " WORD" starts.
        var name = $"(' ' || UPPER(REPLACE(REPLACE(i.{key.Column}, '^', ' '), '=', ' ')))";
        return string.Join(" AND ", words.Select((word, k) =>
        {
            var n = $"{p}_{k}";
            parameters.Add(n, database.WildcardPattern("* " + word.ToUpperInvariant() + "*"));
            return database.WildcardMatch(name, n);
        }));
    }

    private static string Condition(IndexDatabase database, QueryKey key, string value, string p, DynamicParameters parameters)
    {
        switch (key.Kind)
        {
            case MatchKind.UidList:
                var uids = value.Split(['\\', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var names = uids.Select((u, k) => { var n = $"{p}_{k}"; parameters.Add(n, u); return n; }).ToList();
                return names.Count == 0 ? "1 = 0" : $"i.{key.Column} IN ({string.Join(", ", names)})";
            case MatchKind.Number:
                parameters.Add(p, int.Parse(value, NumberStyles.Integer, CultureInfo.InvariantCulture));
                return $"i.{key.Column} = {p}";
            case MatchKind.DateRange:
                var dash = value.IndexOf('-', StringComparison.Ordinal);
                if (dash < 0)
                {
                    parameters.Add(p, value);
                    return $"i.{key.Column} = {p}";
                }

                var (from, to) = (value[..dash], value[(dash + 1)..]);
                parameters.Add(p + "_from", from);
                parameters.Add(p + "_to", to);
                return (from.Length > 0 ? $"i.{key.Column} >= {p}_from" : "1 = 1") + " AND " + (to.Length > 0 ? $"i.{key.Column} <= {p}_to AND i.{key.Column} <> ''" : "1 = 1");
            case MatchKind.ModalityInStudy:
                var modalities = value.Split(['\\', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var list = modalities.Select((m, k) => { var n = $"{p}_{k}"; parameters.Add(n, m); return n; }).ToList();
                return $"i.study_uid IN (SELECT study_uid FROM instances WHERE modality IN ({string.Join(", ", list)}))";
            default:
                if (value.Contains('*', StringComparison.Ordinal) || value.Contains('?', StringComparison.Ordinal))
                {
                    parameters.Add(p, database.WildcardPattern(value));
                    return database.WildcardMatch("i." + key.Column, p);
                }

                parameters.Add(p, value);
                return $"i.{key.Column} = {p}";
        }
    }
}
