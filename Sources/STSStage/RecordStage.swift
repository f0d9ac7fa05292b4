import STSCore

/// One stage of the pipeline: takes a record, returns it enriched with the stage's own key.
///
/// A stage never throws and never drops a record: a failure is written into the record as an
/// error value (`{"status": "error", "error": {"kind": ..., "message": ...}}`) and the record goes on.
/// Keys the stage does not own must come back untouched.
public protocol RecordStage: Sendable {
    func process(_ record: JSONObject) async -> JSONObject
}
