import { ApiError } from './api';

/**
 * Downloads a stored file (`GET /v1/files/:id/content`). A plain link cannot carry the bearer
 * key, so the file is fetched and handed to the browser as a blob.
 */
export async function downloadFile(key: string, fileId: string, fallbackName: string): Promise<void> {
  const response = await fetch(`/v1/files/${fileId}/content`, { headers: { authorization: `Bearer ${key}` } });
  if (!response.ok) throw new ApiError(response.status, `HTTP_${response.status}`, 'download refused');
  const disposition = response.headers.get('content-disposition') ?? '';
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
