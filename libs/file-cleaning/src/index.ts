// The file-cleaning domain. So far: the streaming cleaning engine (`cleaning/`).
export * from './cleaning';
