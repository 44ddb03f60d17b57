namespace MedfusionDicom.Gateway.Storage;

/// <summary>The index's schema as versioned migrations: a database at version N gets migrations N+1.. at start. Never edit one that shipped.</summary>
internal static class IndexSchema
{
    public static IReadOnlyList<string> Migrations { get; } =
    [
        """
        CREATE TABLE instances (
            sop_instance_uid TEXT PRIMARY KEY, sop_class_uid TEXT NOT NULL, study_uid TEXT NOT NULL, series_uid TEXT NOT NULL,
            patient_id TEXT NOT NULL DEFAULT '', patient_name TEXT NOT NULL DEFAULT '', study_date TEXT NOT NULL DEFAULT '',
            study_description TEXT NOT NULL DEFAULT '', accession_number TEXT NOT NULL DEFAULT '', modality TEXT NOT NULL DEFAULT '',
            series_description TEXT NOT NULL DEFAULT '', series_number INTEGER, instance_number INTEGER,
            path TEXT NOT NULL, size INTEGER NOT NULL, transfer_syntax TEXT NOT NULL DEFAULT '',
            calling_ae TEXT NOT NULL DEFAULT '', called_ae TEXT NOT NULL DEFAULT '', received_at INTEGER NOT NULL,
            derived INTEGER NOT NULL DEFAULT 0, route TEXT, routed INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX instances_series ON instances (series_uid);
        CREATE INDEX instances_study ON instances (study_uid);
        CREATE INDEX instances_unrouted ON instances (routed) WHERE routed = 0;
        CREATE TABLE studies (study_uid TEXT PRIMARY KEY, last_received_at INTEGER NOT NULL);
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, sop_instance_uid TEXT NOT NULL, route TEXT NOT NULL, state TEXT NOT NULL,
            attempts INTEGER NOT NULL, not_before INTEGER NOT NULL, lease_owner TEXT, lease_expires INTEGER, last_error TEXT,
            result_uid TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE (sop_instance_uid, route));
        CREATE INDEX jobs_due ON jobs (state, not_before);
        CREATE TABLE exports (
            id INTEGER PRIMARY KEY AUTOINCREMENT, sop_instance_uid TEXT NOT NULL, destination TEXT NOT NULL, state TEXT NOT NULL,
            attempts INTEGER NOT NULL, not_before INTEGER NOT NULL, lease_owner TEXT, lease_expires INTEGER, last_error TEXT,
            created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE (sop_instance_uid, destination));
        CREATE INDEX exports_due ON exports (destination, state, not_before);
        """,
    ];

    public const string JobColumns = """
         id AS Id, sop_instance_uid AS SopInstanceUid, route AS Route, state AS State, attempts AS Attempts, not_before AS NotBeforeMs,
         lease_owner AS LeaseOwner, lease_expires AS LeaseExpiresMs, last_error AS LastError, result_uid AS ResultSopInstanceUid,
         created_at AS CreatedAtMs, updated_at AS UpdatedAtMs
        """;

    public const string SelectInstance = """
        SELECT sop_instance_uid AS SopInstanceUid, sop_class_uid AS SopClassUid, study_uid AS StudyInstanceUid, series_uid AS SeriesInstanceUid,
            patient_id AS PatientId, patient_name AS PatientName, study_date AS StudyDate, study_description AS StudyDescription,
            accession_number AS AccessionNumber, modality AS Modality, series_description AS SeriesDescription, series_number AS SeriesNumber,
            instance_number AS InstanceNumber, path AS Path, size AS Size, transfer_syntax AS TransferSyntaxUid, calling_ae AS CallingAeTitle,
            called_ae AS CalledAeTitle, received_at AS ReceivedAtMs, derived AS Derived, route AS Route
        FROM instances
        """;
}
