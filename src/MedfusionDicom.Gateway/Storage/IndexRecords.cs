namespace MedfusionDicom.Gateway.Storage;

/// <summary>One stored instance as the index knows it (the QIDO attributes, where its file is and where it came from).</summary>
public sealed record InstanceRecord
{
    public required string SopInstanceUid { get; init; }
    public required string SopClassUid { get; init; }
    public required string StudyInstanceUid { get; init; }
    public required string SeriesInstanceUid { get; init; }
    public string PatientId { get; init; } = "";
    public string PatientName { get; init; } = "";
    public string StudyDate { get; init; } = "";
    public string StudyDescription { get; init; } = "";
    public string StudyTime { get; init; } = "";
    public string StudyId { get; init; } = "";
    public string ReferringPhysicianName { get; init; } = "";
    public string PatientBirthDate { get; init; } = "";
    public string PatientSex { get; init; } = "";
    public string AccessionNumber { get; init; } = "";
    public string Modality { get; init; } = "";
    public string SeriesDescription { get; init; } = "";
    public int? SeriesNumber { get; init; }
    public int? InstanceNumber { get; init; }
    public required string Path { get; init; }
    public long Size { get; init; }
    public string TransferSyntaxUid { get; init; } = "";
    public string CallingAeTitle { get; init; } = "";
    public string CalledAeTitle { get; init; } = "";
    public long ReceivedAtMs { get; init; }
    /// <summary>Made by the gateway (a result), not received.</summary>
    public bool Derived { get; init; }
    /// <summary>For a derived instance: the route that made it.</summary>
    public string? Route { get; init; }
}

public enum JobState { Queued, Leased, Done, Failed, Dead }

/// <summary>One source instance under one route.</summary>
public sealed record JobRecord
{
    public long Id { get; init; }
    public string SopInstanceUid { get; init; } = "";
    public string Route { get; init; } = "";
    public JobState State { get; init; }
    public int Attempts { get; init; }
    public long NotBeforeMs { get; init; }
    public string? LeaseOwner { get; init; }
    public long? LeaseExpiresMs { get; init; }
    public string? LastError { get; init; }
    public string? ResultSopInstanceUid { get; init; }
    public long CreatedAtMs { get; init; }
    public long UpdatedAtMs { get; init; }
}

public enum ExportState { Queued, Leased, Done, Dead }

/// <summary>One instance to send to one destination.</summary>
public sealed record ExportRecord
{
    public long Id { get; init; }
    public string SopInstanceUid { get; init; } = "";
    public string Destination { get; init; } = "";
    public ExportState State { get; init; }
    public int Attempts { get; init; }
    public long NotBeforeMs { get; init; }
    public string? LastError { get; init; }
    public string Path { get; init; } = "";
}

/// <summary>A study and what the gateway made of it.</summary>
public sealed record StudySummary(string StudyInstanceUid, string PatientId, string PatientName, string StudyDate, int Instances, int DerivedInstances,
    long LastReceivedAtMs, bool Stable, IReadOnlyList<SeriesSummary> Series);

public sealed record SeriesSummary(string SeriesInstanceUid, string Modality, string SeriesDescription, int Instances, bool Derived, string? Route,
    int JobsQueued, int JobsDone, int JobsFailed, int ExportsQueued, int ExportsDone, int ExportsDead);

/// <summary>An instance that a routing pass looks at: stable study, not routed yet.</summary>
public sealed record UnroutedInstance
{
    public string SopInstanceUid { get; init; } = "";
    public string StudyInstanceUid { get; init; } = "";
    public string SeriesInstanceUid { get; init; } = "";
    public string Path { get; init; } = "";
    public string CallingAeTitle { get; init; } = "";
    public string CalledAeTitle { get; init; } = "";
}
